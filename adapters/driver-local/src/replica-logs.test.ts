import assert from "node:assert/strict";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readReplicaLogs } from "./replica-logs.js";

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
});
