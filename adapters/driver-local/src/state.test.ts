import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readState, StateFile, STATE_FILE, type PersistedState } from "./state.js";

const state = (n: number): PersistedState => ({
  resourceName: "res", deploymentId: "dep", appliedGeneration: n,
  replicas: [{ id: `r${n}`, pid: 1000 + n, port: 20000 + n, generation: n, startedAt: n, restarts: 0 }],
});

describe("state.json: one writer at a time, atomic, never throws on read", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-state-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("200 concurrent writes through one file: none fails, the last one wins, no temporary file is left", async () => {
    const f = new StateFile(dir);
    await Promise.all(Array.from({ length: 200 }, (_, i) => f.write(state(i + 1))));
    assert.deepEqual(await readState(dir), state(200));
    assert.deepEqual(await readdir(dir), [STATE_FILE]);
    assert.equal((await stat(join(dir, STATE_FILE))).mode & 0o777, 0o600);
  });

  it("two writers on one folder (two driver instances) never share a temporary file or leave a corrupt one", async () => {
    const a = new StateFile(dir);
    const b = new StateFile(dir);
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 100; i++) writes.push(a.write(state(i)), b.write(state(1000 + i)));
    const results = await Promise.allSettled(writes);
    assert.deepEqual(results.filter((r) => r.status === "rejected"), []);
    const final = await readState(dir);
    assert.ok(final && (final.appliedGeneration === 100 || final.appliedGeneration === 1100), JSON.stringify(final));
    JSON.parse(await readFile(join(dir, STATE_FILE), "utf8"));
    assert.deepEqual(await readdir(dir), [STATE_FILE]);
  });

  it("a write identical to the last is skipped; a failed write rejects, cleans up, and the next one works", async () => {
    const f = new StateFile(dir);
    await f.write(state(7));
    const before = (await stat(join(dir, STATE_FILE))).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await f.write(state(7));
    assert.equal((await stat(join(dir, STATE_FILE))).mtimeMs, before);
    const gone = new StateFile(join(dir, "no-such-folder"));
    await assert.rejects(gone.write(state(1)), { code: "ENOENT" });
    await gone.settled();
    await f.write(state(8));
    assert.equal((await readState(dir))?.appliedGeneration, 8);
  });

  it("reads a missing, corrupt or ill-shaped file as nothing (null), and drops ill-shaped replicas", async () => {
    const other = await mkdtemp(join(tmpdir(), "flowplane-state-"));
    try {
      assert.equal(await readState(other), null);
      for (const text of ["", "{", "null", "[]", '"x"', '{"resourceName":"r","deploymentId":"d","appliedGeneration":1}', '{"resourceName":"r","deploymentId":"d","appliedGeneration":-1,"replicas":[]}']) {
        await writeFile(join(other, STATE_FILE), text);
        assert.equal(await readState(other), null, text);
      }
      await writeFile(join(other, STATE_FILE), JSON.stringify({ ...state(1), replicas: [state(1).replicas[0], { id: "../x", pid: 1, port: 1, generation: 1, startedAt: 1, restarts: 0 }, { id: "ok", pid: 0 }, null] }));
      assert.deepEqual((await readState(other))?.replicas, state(1).replicas);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
