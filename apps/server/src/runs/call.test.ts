import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FLOW_RUN_ROUTES } from "@flowplane/core";
import { flowIdOf, runOf, type GatewayCall } from "./call.js";

/**
 * The replica registers the routes that run a flow from core's FLOW_RUN_ROUTES (apps/runtime);
 * the gateway records a call as a run by its path alone (flowIdOf, and nginx's counted calls,
 * whose test lua-log.test.ts holds to FLOW_PATHS). A run route the gateway did not read as one
 * would have its runs go unrecorded.
 */
describe("the gateway reads the replica's run routes as runs", () => {
  // Flow ids as a bundle may hold them, sent percent-encoded as the runtime decodes them: a UUID,
  // a name with a space, one with a slash, ids that are the routes' own words.
  const ids = ["0f8fad5b-d9cb-469f-a165-70867728950e", "Basic Prompting", "a/b", "run", "stream", "mcp", "é ü"];

  it("every route the replica runs flows at has exactly one parameter, the flow", () => {
    const routes = Object.values(FLOW_RUN_ROUTES);
    assert.ok(routes.length >= 3, "Langflow's run, lfx's run and its stream");
    for (const route of routes) assert.equal(route.match(/\/:[A-Za-z]+/g)?.length, 1, route);
  });

  it("the workers read a call to any of them as a run of the flow it names (a trailing slash too, which FLOW_PATHS allows)", () => {
    for (const route of Object.values(FLOW_RUN_ROUTES)) {
      for (const id of ids) {
        const path = route.replace(/:[A-Za-z]+/, encodeURIComponent(id));
        assert.equal(flowIdOf(path), id, path);
        assert.equal(flowIdOf(`${path}/`), id, `${path}/`);
      }
    }
  });

  it("an access key given where the flow goes is not what the run records", () => {
    const key = "fp_Q9x7Lm2Kd8Rt5Vb3Nw6Yh1Zc4Jg0Pa-Es_Uf9Ik2Ol7";
    for (const route of Object.values(FLOW_RUN_ROUTES)) {
      assert.equal(flowIdOf(route.replace(/:[A-Za-z]+/, key)), "[redacted]", route);
      assert.equal(flowIdOf(route.replace(/:[A-Za-z]+/, `x-%66p_${key.slice(3)}`)), "x-[redacted]", `${route}, escaped`);
    }
  });

  it("nginx's front logs a call to any of them as a run: its path holds /run or /stream (nginx/lua-log.ts)", () => {
    // An id that is not itself one of those words, so the route's own path has to hold it.
    for (const route of Object.values(FLOW_RUN_ROUTES)) {
      const path = route.replace(/:[A-Za-z]+/, "0f8fad5b-d9cb-469f-a165-70867728950e");
      assert.ok(path.includes("/run") || path.includes("/stream"), path);
    }
  });
});

describe("a run's record", () => {
  const call = (latencyMs: number): GatewayCall => ({
    route: { deploymentId: "d", projectId: "p", kind: "http" }, userId: "u", keyId: "k", requestId: "r", method: "POST",
    path: "/flows/0f8fad5b-d9cb-469f-a165-70867728950e/run", headers: {}, body: null, status: 200, latencyMs, errorCode: undefined,
  });

  it("starts at Date's ISO time of the call's start, whatever the order of the times (within a second, across seconds, before 1970, past 9999)", () => {
    // One after the other, as a batch of log lines comes: the same second twice, then others.
    const starts = [1_733_600_000_123.7, 1_733_600_000_999, 1_733_600_001_000, 1_733_600_000_005, 0, -1, -1_000, -1_001, 999, 253_402_300_799_999, 253_402_300_800_000, 8.64e15, -8.64e15, 1_733_600_001_000];
    for (const start of starts) {
      for (const latencyMs of [0, 2.5]) {
        assert.equal(runOf(call(latencyMs), start + latencyMs)?.time, new Date(Math.trunc(start)).toISOString(), `${start} + ${latencyMs} ms`);
      }
    }
    assert.throws(() => runOf(call(Number.NaN), 1_733_600_000_000), RangeError, "no time, as Date has none");
    // Date's last millisecond, then one past it in the same second: Date refuses that one.
    assert.equal(runOf(call(0), 8.64e15)?.time, new Date(8.64e15).toISOString());
    assert.throws(() => runOf(call(0), 8.64e15 + 1), RangeError, "past Date's range");
    assert.throws(() => runOf(call(0), -8.64e15 - 1), RangeError, "before it");
  });

  it("keeps a flow id of plain characters as it is, and cuts any id at 200 characters", () => {
    const plain = "a".repeat(200);
    assert.equal(runOf({ ...call(0), path: `/flows/${plain}/run` }, 0)?.flowId, plain);
    assert.equal(runOf({ ...call(0), path: `/flows/${plain}b/run` }, 0)?.flowId, plain, "201 plain characters");
    assert.equal(runOf({ ...call(0), path: `/flows/${"é".repeat(201)}/run` }, 0)?.flowId, "é".repeat(200));
    assert.equal(runOf({ ...call(0), path: "/flows/a%2Fb/run" }, 0)?.flowId, "a/b", "decoded");
  });
});
