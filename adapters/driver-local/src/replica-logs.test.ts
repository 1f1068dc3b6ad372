import assert from "node:assert/strict";
import { appendFile, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GONE_LOGS_KEPT, pruneReplicaLogs, readReplicaLogs } from "./replica-logs.js";

/** The local driver's log reads on real files: a follow (cursors) always moves on. */
describe("replica logs (local driver)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-logs-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("a tail, then only the lines written after the cursor", async () => {
    await writeFile(join(dir, "replica-a.log"), "one\ntwo\nthree\n");
    const [first] = await readReplicaLogs(dir, { tailLines: 2 });
    assert.deepEqual(first!.lines, ["two", "three"]);
    await appendFile(join(dir, "replica-a.log"), "four\npart");
    const [next] = await readReplicaLogs(dir, { cursors: { a: first!.cursor } });
    assert.deepEqual(next!.lines, ["four"]);
  });

  it("a line longer than one read does not stall a follow: it comes cut, and the lines after it come", async () => {
    const maxBytes = 1024;
    await writeFile(join(dir, "replica-b.log"), "start\n");
    const [first] = await readReplicaLogs(dir, { replica: "b", tailLines: 10 }, { maxBytes });
    assert.deepEqual(first!.lines, ["start"]);
    await appendFile(join(dir, "replica-b.log"), `${"x".repeat(3 * maxBytes)}\nafter\n`);
    let cursor = first!.cursor;
    const seen: string[] = [];
    for (let i = 0; i < 10 && !seen.includes("after"); i++) {
      const [c] = await readReplicaLogs(dir, { replica: "b", cursors: { b: cursor } }, { maxBytes });
      cursor = c!.cursor;
      seen.push(...c!.lines);
    }
    assert.ok(seen.includes("after"), `the follow never got past the long line: ${JSON.stringify(seen.map((l) => l.slice(0, 20)))}`);
    assert.ok(seen.every((l) => Buffer.byteLength(l) <= maxBytes), "no line is longer than one read");
  });

  it("one read takes about maxBytes from all the replicas' logs together, and each follow still moves on", async () => {
    const d = await mkdtemp(join(tmpdir(), "flowplane-logs-many-"));
    try {
      const line = `${"y".repeat(199)}\n`;
      for (let i = 0; i < 10; i++) await writeFile(join(d, `replica-m${i}.log`), line.repeat(5_000)); // 1 MB each
      const chunks = await readReplicaLogs(d, { tailLines: 5_000 });
      assert.equal(chunks.length, 10);
      const bytes = chunks.reduce((n, c) => n + c.lines.reduce((m, l) => m + l.length + 1, 0), 0);
      assert.ok(bytes <= 1024 * 1024, `one read took ${bytes} bytes`);
      assert.ok(chunks.every((c) => c.lines.length > 0), "every replica has its share");
      // A follow from each cursor gets what comes next.
      for (let i = 0; i < 10; i++) await appendFile(join(d, `replica-m${i}.log`), `next ${i}\n`);
      const next = await readReplicaLogs(d, { cursors: Object.fromEntries(chunks.map((c) => [c.replica, c.cursor])) });
      assert.deepEqual(next.map((c) => c.lines.at(-1)).sort(), Array.from({ length: 10 }, (_, i) => `next ${i}`).sort());
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it("keeps the logs of current replicas and the most recent of gone ones, and removes the rest", async () => {
    const d = await mkdtemp(join(tmpdir(), "flowplane-prune-"));
    try {
      const t0 = Date.now() / 1000 - 1000;
      // 15 gone replicas, g0 the oldest; two current ones written before all of them.
      for (let i = 0; i < 15; i++) {
        await writeFile(join(d, `replica-g${i}.log`), `gone ${i}\n`);
        await utimes(join(d, `replica-g${i}.log`), t0 + 10 + i, t0 + 10 + i);
      }
      for (const id of ["c1", "c2"]) {
        await writeFile(join(d, `replica-${id}.log`), "current\n");
        await utimes(join(d, `replica-${id}.log`), t0, t0);
      }
      await writeFile(join(d, "state.json"), "{}");
      assert.equal(await pruneReplicaLogs(d, new Set(["c1", "c2"])), 15 - GONE_LOGS_KEPT);
      const left = (await readdir(d)).sort();
      const kept = Array.from({ length: GONE_LOGS_KEPT }, (_, i) => `replica-g${15 - GONE_LOGS_KEPT + i}.log`);
      assert.deepEqual(left, ["replica-c1.log", "replica-c2.log", ...kept, "state.json"].sort());
      // Nothing more to remove: a second pass removes nothing.
      assert.equal(await pruneReplicaLogs(d, new Set(["c1", "c2"])), 0);
      assert.equal(await pruneReplicaLogs(join(d, "absent"), new Set()), 0);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
