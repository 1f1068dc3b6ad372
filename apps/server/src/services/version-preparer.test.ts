import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DomainError, prepareVersion } from "@flowplane/core";
import { loadFixture } from "@flowplane/testkit";
import { threadedPreparer } from "./version-preparer.js";

/** `n` copies of a real export, each with its own id and name (a large bundle, as a team may publish one). */
const bundle = (n: number, extra: Record<string, unknown> = {}) => {
  const flow = loadFixture("vector-store-rag");
  return {
    name: "big", versionTag: "1", accessLevel: "global",
    flows: Array.from({ length: n }, (_, i) => ({ ...flow, id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, name: `rag ${i}` })),
    ...extra,
  };
};

/** What `f` throws, as the API would tell it. */
async function thrown(f: () => unknown): Promise<{ name: string; code: string; message: string; details: unknown }> {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof DomainError, String(e));
    return { name: e.name, code: e.code, message: e.message, details: e.details };
  }
  assert.fail("expected an error");
}

describe("publish preparation off the event loop", () => {
  // Every body goes to a thread (none is small enough to stay inline).
  const onThread = threadedPreparer({ inlineMaxBytes: -1 });

  it("keeps the event loop turning while a large publish is parsed and checked", async () => {
    let settled = false;
    const prepared = onThread(bundle(20), "u", undefined).finally(() => (settled = true));
    // Inline, the whole bundle is parsed, checked and hashed before the call returns: the loop
    // does not turn once until it is done. On a thread, other work (here: turns of the loop) goes on.
    let turns = 0;
    while (!settled) {
      await new Promise((r) => setImmediate(r));
      turns++;
    }
    const version = await prepared;
    assert.equal(version.flows.length, 20);
    assert.ok(turns > 1, `the event loop turned ${turns} time(s) while the publish was prepared`);
  });

  it("answers the version prepared inline, with the flows' JSON text written on the thread", async () => {
    const ok = bundle(3);
    const { rawFlowsJson, ...threaded } = await onThread(ok, "u", undefined);
    assert.deepEqual(threaded, prepareVersion(ok, "u"));
    assert.equal(rawFlowsJson, JSON.stringify(ok.flows));
  });

  it("refuses what inline preparation refuses, with the same 400 and 422 errors", async () => {
    const cases: unknown[] = [
      bundle(2, { versionTag: "latest" }), // 400 naming versionTag
      bundle(2, { flows: [] }), // 400: at least one flow
      bundle(2, { defaults: { NOT_A_PARAMETER: "x" } }), // 400 naming defaults.NOT_A_PARAMETER
      { ...bundle(2), flows: [bundle(1).flows[0], bundle(1).flows[0]] }, // 422: two flows with one id
      { ...bundle(1), flows: [{ name: "no graph" }] }, // 422: not a flow export
    ];
    for (const input of cases) {
      const inline = await thrown(() => prepareVersion(input, "u"));
      assert.deepEqual(await thrown(() => onThread(input, "u", undefined)), inline);
    }
  });

  it("prepares small bodies inline, and bounds the threads at once", async () => {
    const small = threadedPreparer({ threads: 1 });
    let settled = false;
    const prepared = small(bundle(1), "u", 1000).finally(() => (settled = true));
    await Promise.resolve();
    assert.equal(settled, true, "a small body is prepared without a thread");
    await prepared;
    // One thread at a time: both answer, in turn.
    const one = threadedPreparer({ inlineMaxBytes: -1, threads: 1 });
    const [a, b] = await Promise.all([one(bundle(2), "u", undefined), one(bundle(2, { name: "other" }), "u", undefined)]);
    assert.equal(a.name, "big");
    assert.equal(b.name, "other");
  });
});
