import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseRevision, isSplit, revisionServedBy, sessionIdOf, type LiveRevision } from "./traffic-split.js";
import { extraPools, liveRevisions, trafficAfterChange } from "./live-revisions.js";

const canary = (percent: number): LiveRevision[] => [{ revision: 6, runs: 6, percent }, { revision: 5, runs: 5, percent: 100 - percent }];
const pick = (live: LiveRevision[], key: string) => chooseRevision(live, key).live?.revision;

describe("traffic split: chooseRevision", () => {
  it("keeps every session on one revision, and the share over 1,000 sessions near the percentage", () => {
    const live = canary(10);
    let onCanary = 0;
    for (let i = 0; i < 1000; i++) {
      const session = `session-${i}-${(i * 7919) % 1000}`;
      const first = pick(live, session);
      for (let call = 0; call < 5; call++) assert.equal(pick(live, session), first, `session ${session} stays on revision ${first}`);
      if (first === 6) onCanary++;
    }
    assert.ok(onCanary >= 70 && onCanary <= 130, `${onCanary} of 1000 sessions on the 10% canary`);
  });

  it("a canary that grows keeps the sessions it already had", () => {
    for (let i = 0; i < 1000; i++) {
      const s = `s${i}`;
      if (pick(canary(10), s) === 6) assert.equal(pick(canary(50), s), 6);
    }
  });

  it("one live revision, or a warm one at 0%: every call to the one with the share", () => {
    assert.equal(pick([{ revision: 3, runs: 1, percent: 100 }, { revision: 2, runs: 2, percent: 0 }], "x"), 3);
    assert.deepEqual(chooseRevision(undefined, "x"), { live: undefined });
    assert.equal(isSplit([{ revision: 3, runs: 1, percent: 100 }, { revision: 2, runs: 2, percent: 0 }]), false);
    assert.equal(isSplit(canary(10)), true);
  });

  it("the target header reaches any live revision, 0% included; others are a 404, junk a 400", () => {
    const live: LiveRevision[] = [{ revision: 3, runs: 1, percent: 100 }, { revision: 2, runs: 2, percent: 0 }];
    assert.equal(chooseRevision(live, "x", "2").live?.runs, 2);
    assert.equal(chooseRevision(live, "x", "7").error?.status, 404);
    assert.match(chooseRevision(live, "x", "7").error?.message ?? "", /revision 7 is not live \(live revisions: 3, 2\)/);
    assert.equal(chooseRevision(live, "x", "two").error?.status, 400);
    assert.equal(chooseRevision(live, "x", "0").error?.status, 400);
  });

  it("names a rollback's replicas by the revision they serve", () => {
    const live: LiveRevision[] = [{ revision: 3, runs: 1, percent: 100 }, { revision: 2, runs: 2, percent: 0 }];
    assert.equal(revisionServedBy(live, 1), 3);
    assert.equal(revisionServedBy(live, 2), 2);
    assert.equal(revisionServedBy(live, 9), 9);
  });

  it("reads the session id from MCP's header or a run body's session_id", () => {
    assert.equal(sessionIdOf({ "mcp-session-id": "m1" }, undefined), "m1");
    assert.equal(sessionIdOf({}, Buffer.from(JSON.stringify({ input_value: "hi", session_id: "s-1" }))), "s-1");
    assert.equal(sessionIdOf({}, Buffer.from("{not json session_id")), undefined);
    // The key spelled with a JSON escape is the same key to every parser, so to this one.
    assert.equal(sessionIdOf({}, Buffer.from('{"input_value":"hi","session\\u005fid":"s-2"}')), "s-2");
    assert.equal(sessionIdOf({}, Buffer.from(JSON.stringify({ input_value: "hi" }))), undefined);
  });
});

describe("live revisions of a deployment", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  it("an edit keeps the revision before it warm for the grace period; a rollback runs the restored revision's replicas", () => {
    const d = { revision: 2, traffic: null, resources: { replicas: 3, cpu: { request: "1", limit: "1" }, memory: { request: "1Gi", limit: "1Gi" } } };
    const t = trafficAfterChange(d, { revision: 3, runs: 3 }, { now, warmSeconds: 60 });
    assert.deepEqual(t, { runs: 3, canary: null, warm: { revision: 2, runs: 2, until: "2026-01-01T00:01:00.000Z" } });
    const after = { ...d, revision: 3, traffic: t };
    assert.deepEqual(liveRevisions(after, now), [{ revision: 3, runs: 3, percent: 100 }, { revision: 2, runs: 2, percent: 0 }]);
    assert.deepEqual(extraPools(after, now), [{ revision: 2, runs: 2, replicas: 1 }]);
    // Once the grace period is over, only the current revision is live.
    assert.deepEqual(liveRevisions(after, new Date("2026-01-01T00:01:00Z")), [{ revision: 3, runs: 3, percent: 100 }]);
    const rolled = trafficAfterChange(after, { revision: 4, runs: 2 }, { now, warmSeconds: 60 });
    assert.deepEqual(liveRevisions({ revision: 4, traffic: rolled }, now), [{ revision: 4, runs: 2, percent: 100 }, { revision: 3, runs: 3, percent: 0 }]);
    assert.equal(trafficAfterChange(after, { revision: 4, runs: 4 }, { now, warmSeconds: 0 }).warm, null, "0: no warm revision");
  });

  it("a canary: the current revision gets its share, the stable one the rest with all its replicas", () => {
    const d = { revision: 5, traffic: null, resources: { replicas: 2, cpu: { request: "1", limit: "1" }, memory: { request: "1Gi", limit: "1Gi" } } };
    const t = trafficAfterChange(d, { revision: 6, runs: 6 }, { now, warmSeconds: 60, canaryPercent: 10 });
    const after = { ...d, revision: 6, traffic: t };
    assert.deepEqual(liveRevisions(after, now), canary(10));
    assert.deepEqual(extraPools(after, now), [{ revision: 5, runs: 5, replicas: 2 }]);
  });
});
