import assert from "node:assert/strict";
import { test } from "node:test";
import type { GatewayRoute } from "../gateway/index.js";
import { LookupTimeoutError } from "../gateway/index.js";
import type { FromWorker, ToWorker } from "./protocol.js";
import { WorkerSources } from "./worker-sources.js";

/** A worker's view of its control plane: the ready sets of a deployment and of each live revision (the traffic split's candidates). */

const route = (live: number[]): GatewayRoute => ({
  projectId: "p", appId: "a", routeId: "r", kind: "http", deploymentId: "d1", resourceName: "res", networkAccess: "public",
  requestTimeoutSeconds: 30, revision: live[0], live: live.map((runs, i) => ({ revision: runs, runs, percent: i === 0 ? 100 : 0 })),
});

/** A WorkerSources whose control plane answers every route question with `answer`. */
function sourcesAnswering(answer: (id: number) => ToWorker): { s: WorkerSources; sent: FromWorker[]; forgotten: number } {
  const sent: FromWorker[] = [];
  const box = { s: undefined as unknown as WorkerSources, sent, forgotten: 0 };
  box.s = new WorkerSources((m) => {
    sent.push(m);
    if (m.t === "route") queueMicrotask(() => box.s.receive(answer(m.id)));
  }, () => { box.forgotten++; }, 1_000);
  return box;
}

test("a route answer brings the deployment's ready set and each live revision's; pushes update one set; a new answer drops revisions no longer live", async () => {
  let live = [6, 5];
  const box = sourcesAnswering((id) => ({
    t: "route", id, route: route(live), secret: "s3cret",
    ready: [{ resourceName: "res", urls: ["http://a", "http://b"] }, ...live.map((runs) => ({ resourceName: "res", runs, urls: [`http://r${runs}`] }))],
  }));
  const { s } = box;
  assert.equal((await s.resolveRoute("r"))?.resourceName, "res");
  assert.deepEqual(s.endpoints("res"), ["http://a", "http://b"]);
  assert.deepEqual(s.endpoints("res", 6), ["http://r6"]);
  assert.deepEqual(s.endpoints("res", 5), ["http://r5"]);
  assert.deepEqual(s.endpoints("res", 4), [], "not live: no replica");
  assert.equal(s.gatewaySecret("d1"), "s3cret");

  // A pushed change of one revision's set leaves the others alone.
  s.receive({ t: "endpoints", ready: { resourceName: "res", runs: 5, urls: ["http://r5", "http://r5b"] } });
  assert.deepEqual(s.endpoints("res", 5), ["http://r5", "http://r5b"]);
  assert.deepEqual(s.endpoints("res", 6), ["http://r6"]);
  s.receive({ t: "endpoints", ready: { resourceName: "res", urls: ["http://a"] } });
  assert.deepEqual(s.endpoints("res"), ["http://a"]);

  // The route changed (a promote: only 6 is live): the control plane says so, the next answer replaces the revisions.
  s.receive({ t: "forget-routes" });
  assert.equal(box.forgotten, 1);
  live = [6];
  await s.resolveRoute("r");
  assert.deepEqual(s.endpoints("res", 5), [], "a revision no longer live keeps no stale set (a later cold rollback to it must not reach old addresses)");
  assert.deepEqual(s.endpoints("res", 6), ["http://r6"]);
});

test("a wake-up's answer refreshes the ready sets it carries", async () => {
  const box = sourcesAnswering(() => { throw new Error("no route questions here"); });
  const waking = box.s.wake("d1", 50);
  const ask = box.sent.find((m) => m.t === "wake");
  assert.ok(ask && ask.t === "wake");
  box.s.receive({ t: "wake", id: ask.id, ready: [{ resourceName: "res", urls: ["http://up"] }, { resourceName: "res", runs: 7, urls: ["http://up"] }] });
  await waking;
  assert.deepEqual(box.s.endpoints("res"), ["http://up"]);
  assert.deepEqual(box.s.endpoints("res", 7), ["http://up"]);
});

test("a question the control plane does not answer in time fails with LookupTimeoutError (the pipeline's 504)", async () => {
  const s = new WorkerSources(() => {}, () => {}, 20);
  // The deadline's timer is unref'd (a worker's IPC channel keeps its loop alive); here nothing
  // else may, so the test holds the loop open until the deadline has fired.
  const alive = setInterval(() => {}, 1000);
  try {
    await assert.rejects(s.resolveRoute("r"), (e) => e instanceof LookupTimeoutError && e.lookup === "route");
  } finally {
    clearInterval(alive);
  }
});
