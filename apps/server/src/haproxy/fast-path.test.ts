import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GatewayRoute } from "../gateway/types.js";
import { readProxyLine } from "../data-plane/proxy-protocol.js";
import { firstFields, parseFastCount, parseFastLine } from "./log-line.js";
import { fastRoute } from "../fast-path/state.js";

const NONE = { requestsPerSecond: null, burst: null, maxConcurrent: null };
const route = (over: Partial<GatewayRoute> = {}): GatewayRoute => ({
  projectId: "p1", appId: "a1", routeId: "r1", kind: "http", deploymentId: "d1", resourceName: "d-x", networkAccess: "public",
  requestTimeoutSeconds: 60, disabled: false, revision: 2, live: [{ revision: 2, runs: 2, percent: 100 }], limits: { deployment: NONE, perKey: NONE }, ...over,
});

describe("HAProxy's fast path: which routes, which lines", () => {
  it("takes a public HTTP route with one live revision and no limits; leaves everything else to Node", () => {
    assert.equal(fastRoute(route()), true);
    assert.equal(fastRoute(route({ live: undefined })), true);
    assert.equal(fastRoute(route({ kind: "mcp" })), false, "MCP");
    assert.equal(fastRoute(route({ networkAccess: "private" })), false, "private");
    assert.equal(fastRoute(route({ disabled: true })), false, "kill switch");
    assert.equal(fastRoute(route({ wakeTimeoutSeconds: 60 })), false, "scale to zero");
    assert.equal(fastRoute(route({ limits: { deployment: { ...NONE, requestsPerSecond: 5 }, perKey: NONE } })), false, "deployment rate");
    assert.equal(fastRoute(route({ limits: { deployment: NONE, perKey: { ...NONE, maxConcurrent: 1 } } })), false, "per-key concurrency");
    assert.equal(fastRoute(route({ live: [{ revision: 3, runs: 3, percent: 90 }, { revision: 2, runs: 2, percent: 10 }] })), false, "canary");
    assert.equal(fastRoute(route({ live: [{ revision: 2, runs: 2, percent: 100 }, { revision: 1, runs: 1, percent: 0 }] })), false, "a warm revision the target header may ask for");
    assert.equal(fastRoute(route({ live: [{ revision: 3, runs: 1, percent: 100 }] })), false, "a rollback renames its replicas' revision");
    assert.equal(fastRoute(route({ routeId: "r 1" })), false, "an id the runtime API could not carry");
  });

  it("reads HAProxy's log lines back as calls, and nothing else", () => {
    assert.deepEqual(parseFastLine("fpfast rid-1 r1 u1|k1 POST /flows/f/run 200 12 2 -"), {
      requestId: "rid-1", routeId: "r1", userId: "u1", keyId: "k1", method: "POST", path: "/flows/f/run", status: 200, latencyMs: 12, revision: 2, errorCode: undefined,
    });
    assert.equal(parseFastLine("fpfast rid-2 r1 u1|- GET / 502 3 - bad%20gateway")?.errorCode, "bad gateway");
    assert.equal(parseFastLine("fpfast rid-2 r1 u1|- GET / 502 3 - x")?.keyId, undefined);
    assert.equal(parseFastLine("fpfast rid-2 r1 u1|k GET / 200 3 007 -")?.revision, null, "not a revision number");
    assert.equal(parseFastLine("[NOTICE] haproxy started"), null);
  });

  it("splits a line's fields as split(\" \") would (firstFields), whatever the spaces", () => {
    // Every string of up to 7 characters over "a", "b" and a space, and longer ones: the first n fields alike.
    const alphabet = ["a", "b", " "];
    const strings = [""];
    for (let len = 1; len <= 7; len++) for (let i = 0; i < 3 ** len; i++) strings.push([...Array(len)].map((_, k) => alphabet[Math.floor(i / 3 ** k) % 3]).join(""));
    strings.push("fpfast rid r1 u|k GET / 200 1 - - extra", " fpfast  x ", "a".repeat(300) + " b");
    for (const line of strings) {
      const parts = line.split(" ");
      for (const n of [1, 2, 3, 10]) assert.deepEqual(firstFields(line, n), parts.length >= n ? parts.slice(0, n) : null, JSON.stringify([line, n]));
    }
    // A line's surrounding whitespace, doubled spaces (an empty field), fields past the tenth, one field short.
    assert.equal(parseFastLine("  fpfast rid-1 r1 u1|k1 POST /f 200 12 2 -\n")?.requestId, "rid-1");
    assert.equal(parseFastLine("fpfast rid-1 r1 u1|k1 POST /f 200 12 2 - more fields")?.errorCode, undefined);
    assert.equal(parseFastLine("fpfast rid-1  r1 u1|k1 POST /f 200 12 2 -")?.routeId, "", "an empty field, as split gives it");
    assert.equal(parseFastLine("fpfast rid-1 r1 u1|k1 POST /f 200 12 2"), null, "nine fields");
    assert.equal(parseFastLine("fpfastx rid-1 r1 u1|k1 POST /f 200 12 2 -"), null);
  });

  it("reads nginx's counted calls back, and nothing else as them", () => {
    assert.deepEqual(parseFastCount("fpagg r1 u1|k1 2 200 12 35"), { routeId: "r1", userId: "u1", keyId: "k1", status: 200, latencyMs: 12, revision: 2, calls: 35 });
    assert.deepEqual(parseFastCount("fpagg r1 u1|- - 503 0 1"), { routeId: "r1", userId: "u1", keyId: undefined, status: 503, latencyMs: 0, revision: null, calls: 1 });
    for (const line of ["fpagg r1 u1|k1 2 200 12 0", "fpagg r1 u1|k1 2 200 12 1.5", "fpagg r1 u1|k1 2 200 12 x", "fpagg r1 u1|k1 2 200 12 1e3", "fpagg r1 u1|k1 2 200 12 0x10", "fpagg r1 u1|k1 2 200 12 +5", "fpagg r1 u1|k1 2 200 12 -1", "fpagg r1 u1|k1 2 200 12 1".padEnd(44, "0"), "fpagg r1 u1|k1 2 200 12", "fpagg r1 u1|k1 2 200 12 3 x", "fpfast rid-1 r1 u1|k1 POST /flows/f/run 200 12 2 -"]) {
      assert.equal(parseFastCount(line), null, line);
    }
    assert.equal(parseFastLine("fpagg r1 u1|k1 2 200 12 35"), null, "a count is not a call's line");
  });

  it("reads the PROXY line HAProxy puts before each connection to Node", () => {
    const p = readProxyLine(Buffer.from("PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\r\nGET / HTTP/1.1\r\n"));
    assert.ok(p && p !== "incomplete");
    assert.deepEqual(p.client, { address: "10.1.2.3", port: 5555 });
    assert.equal(p.rest.toString(), "GET / HTTP/1.1\r\n");
    assert.equal(readProxyLine(Buffer.from("PROXY TCP4 10.1")), "incomplete");
    assert.equal(readProxyLine(Buffer.from("GET / HTTP/1.1\r\n")), null, "a client talking to the loopback port directly is refused");
    assert.equal(readProxyLine(Buffer.from("PROXY TCP4 a;b 127.0.0.1 1 2\r\n")), null);
  });
});
