import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { constants } from "node:fs";
import { mkdtemp, open, readdir, readFile, rm, stat, utimes, writeFile, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LogLocks, keptPath, logPath, openLog, readLogSpan, rotateReplicaLog } from "./log-rotation.js";
import { pruneReplicaLogs, readReplicaLogs } from "./replica-logs.js";

/** Rotation on real files, written the way a replica writes its log: one descriptor opened for appending. */
describe("replica log rotation (local driver)", () => {
  let dir: string;
  const writers: FileHandle[] = [];
  // As the driver holds them: one for all its logs.
  const locks = new LogLocks();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-rotate-"));
  });
  after(async () => {
    for (const w of writers) await w.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const writer = async (id: string) => {
    const w = await open(logPath(dir, id), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND, 0o600);
    writers.push(w);
    return (from: number, to: number) => w.write(Array.from({ length: to - from }, (_, i) => `line ${from + i}\n`).join(""));
  };
  const rotation = { atBytes: 4096, keepBytes: 1024 };
  const numbers = (lines: string[]) => lines.map((l) => Number(/^line (\d+)$/.exec(l)?.[1] ?? NaN));

  it("leaves a log under the threshold alone; over it, keeps its last lines from a line start and truncates the live file", async () => {
    const write = await writer("a");
    await write(0, 100);
    const small = (await stat(logPath(dir, "a"))).size;
    assert.equal(await rotateReplicaLog(dir, "a", rotation, locks), false);
    assert.equal((await stat(logPath(dir, "a"))).size, small);
    await write(100, 500);
    const big = (await stat(logPath(dir, "a"))).size;
    assert.equal(await rotateReplicaLog(dir, "a", rotation, locks), true);
    assert.equal((await stat(logPath(dir, "a"))).size, 0);
    const keptText = await readFile(keptPath(dir, "a"), "utf8");
    const kept = keptText.split("\n").filter(Boolean);
    assert.ok(kept.length > 90 && kept.length < 115, `about the last 1 KiB: ${kept.length} lines`);
    assert.equal(kept.at(-1), "line 499");
    assert.match(kept[0]!, /^line \d+$/, "from a line start");
    assert.ok(keptText.endsWith("\n"));
    // Offsets in everything written: the live file now starts where the rotation cut it.
    assert.deepEqual(await readLogSpan(dir, "a"), { base: big, prev: big - Buffer.byteLength(keptText) });
    // The replica's next write lands at the new end: no hole as long as what it wrote before.
    await write(500, 501);
    assert.equal((await stat(logPath(dir, "a"))).size, Buffer.byteLength("line 500\n"));
  });

  it("a follow goes on from the kept part into the live file, across rotations, without a gap or a repeat", async () => {
    const write = await writer("b");
    await write(0, 10);
    const [first] = await readReplicaLogs(dir, { replica: "b", tailLines: 1000 }, { locks });
    const seen = numbers(first!.lines);
    let cursor = first!.cursor;
    let next = 10;
    const follow = async () => {
      for (let i = 0; i < 50; i++) {
        const [c] = await readReplicaLogs(dir, { replica: "b", cursors: { b: cursor } }, { maxBytes: 700, locks });
        cursor = c!.cursor;
        if (c!.lines.length === 0) return;
        seen.push(...numbers(c!.lines));
      }
    };
    for (let round = 0; round < 6; round++) {
      // Lines, a rotation, more lines; then the follow (in reads of at most 700 bytes).
      await write(next, next + 150 + round * 40);
      next += 150 + round * 40;
      assert.equal(await rotateReplicaLog(dir, "b", { atBytes: 1000, keepBytes: 4000 }, locks), true);
      await write(next, next + 5);
      next += 5;
      await follow();
    }
    for (let i = 1; i < seen.length; i++) assert.equal(seen[i], seen[i - 1]! + 1, `line ${seen[i - 1]} then line ${seen[i]}`);
    assert.equal(seen.at(-1), next - 1);
    // Two rotations between reads: only the last one's kept part is there; the follow resumes at
    // its first line (what came before it is gone) and goes on without a repeat.
    await write(next, next + 400);
    next += 400;
    await rotateReplicaLog(dir, "b", { atBytes: 1000, keepBytes: 1000 }, locks);
    await write(next, next + 400);
    next += 400;
    await rotateReplicaLog(dir, "b", { atBytes: 1000, keepBytes: 1000 }, locks);
    const firstKept = Number(/^line (\d+)/.exec(await readFile(keptPath(dir, "b"), "utf8"))![1]);
    const from = seen.length;
    await follow();
    assert.equal(seen[from], firstKept);
    assert.equal(seen.at(-1), next - 1);
    for (let i = from + 1; i < seen.length; i++) assert.equal(seen[i], seen[i - 1]! + 1);
  });

  it("a tail that wants more lines than the live file holds takes the rest from the kept part", async () => {
    const write = await writer("c");
    await write(0, 600);
    await rotateReplicaLog(dir, "c", rotation, locks);
    await write(600, 603);
    const [t] = await readReplicaLogs(dir, { replica: "c", tailLines: 10 }, { locks });
    assert.deepEqual(numbers(t!.lines), [593, 594, 595, 596, 597, 598, 599, 600, 601, 602]);
    // Its cursor is the live file's end: the follow after it gets only new lines.
    await write(603, 604);
    const [n] = await readReplicaLogs(dir, { replica: "c", cursors: { c: t!.cursor } }, { locks });
    assert.deepEqual(n!.lines, ["line 603"]);
  });

  it("a kept part that ends inside a line gives that line whole as far as it goes, then the live file", async () => {
    const w = await open(logPath(dir, "d"), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND, 0o600);
    writers.push(w);
    await w.write("first\n" + "x".repeat(5000) + "\nhalf a li");
    const [t] = await readReplicaLogs(dir, { replica: "d", tailLines: 1 }, { locks });
    await rotateReplicaLog(dir, "d", rotation, locks);
    await w.write("ne\nafter\n");
    const lines: string[] = [];
    let cursor = t!.cursor;
    for (let i = 0; i < 5; i++) {
      const [c] = await readReplicaLogs(dir, { replica: "d", cursors: { d: cursor } }, { locks });
      cursor = c!.cursor;
      lines.push(...c!.lines);
    }
    assert.deepEqual(lines, ["half a li", "ne", "after"]);
    // A tail shows the same lines as the follow did.
    const [tail] = await readReplicaLogs(dir, { replica: "d", tailLines: 3 }, { locks });
    assert.deepEqual(tail!.lines, ["half a li", "ne", "after"]);
  });

  it("a replica restarted under its id (a new output) is read from its start; pruning a gone replica's log takes its kept part", async () => {
    const write = await writer("e");
    await write(0, 600);
    await rotateReplicaLog(dir, "e", rotation, locks);
    const [before] = await readReplicaLogs(dir, { replica: "e", tailLines: 1 }, { locks });
    assert.ok(Number(before!.cursor.split(":")[1]) > 5000, "the cursor counts what was rotated away");
    for (const f of ["replica-e.log", "replica-e.log.1", "replica-e.log.meta"]) await utimes(join(dir, f), new Date(0), new Date(0));
    assert.equal(await pruneReplicaLogs(dir, new Set(["a", "b", "c", "d"]), 0), 1);
    const left = (await readdir(dir)).filter((f) => f.startsWith("replica-e"));
    assert.deepEqual(left, []);
  });

  it("reads that run while the log is rotated see it before or after, never half way: a follow never steps back", async () => {
    const write = await writer("g");
    let next = 0;
    const more = async (n: number) => {
      await write(next, next + n);
      next += n;
    };
    await more(10);
    const [t] = await readReplicaLogs(dir, { replica: "g", tailLines: 1000 }, { locks });
    const seen = numbers(t!.lines);
    let cursor = t!.cursor;
    const step = async () => {
      const [c] = await readReplicaLogs(dir, { replica: "g", cursors: { g: cursor } }, { maxBytes: 700, locks });
      cursor = c!.cursor;
      seen.push(...numbers(c!.lines));
      return c!.lines.length;
    };
    let done = false;
    const follow = (async () => {
      while (!done) await step();
    })();
    // Nothing is written during a rotation, so nothing may be lost either.
    for (let round = 0; round < 300; round++) {
      await more(100);
      await rotateReplicaLog(dir, "g", { atBytes: 1000, keepBytes: 3000 }, locks);
      await new Promise((r) => setImmediate(r));
    }
    done = true;
    await follow;
    while ((await step()) > 0);
    // A follow that fell behind a kept part it had not finished resumes at the next one's start: a gap, never a step back.
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `line ${seen[i - 1]} then line ${seen[i]}`);
    assert.equal(seen.at(-1), next - 1);
  });

  it("a rotation under way when the replica is restarted under its id neither truncates the new output nor gives it the old one's kept part", async () => {
    const write = await writer("h");
    await write(0, 500);
    const rotation = rotateReplicaLog(dir, "h", { atBytes: 1000, keepBytes: 1000 }, locks);
    const fresh = await openLog(dir, "h", locks);
    writers.push(fresh);
    await fresh.write("new 0\nnew 1\n");
    await rotation;
    const [t] = await readReplicaLogs(dir, { replica: "h", tailLines: 5 }, { locks });
    assert.deepEqual(t!.lines, ["new 0", "new 1"]);
  });

  it("a tail takes nothing from the kept part when the read cap, not the live file's start, cut its lines short", async () => {
    const write = await writer("i");
    await write(0, 600);
    await rotateReplicaLog(dir, "i", rotation, locks);
    const w = writers.at(-1)!;
    for (let i = 600; i < 605; i++) await w.write(`line ${i} ${"x".repeat(300)}\n`);
    const [t] = await readReplicaLogs(dir, { replica: "i", tailLines: 6 }, { maxBytes: 1000, locks });
    assert.deepEqual(t!.lines.map((l) => l.split(" ")[1]), ["602", "603", "604"], "the last lines, none from before the gap");
    // A live file ending in more than the cap without a line break: no line to show, and no older one as if it were the last.
    await w.write("y".repeat(3000));
    const [u] = await readReplicaLogs(dir, { replica: "i", tailLines: 3 }, { maxBytes: 1000, locks });
    assert.deepEqual(u!.lines, []);
  });

  it("a rotation whose span cannot be written leaves no kept part that the old span would misplace", async (t) => {
    const w = await open(logPath(dir, "j"), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND, 0o600);
    writers.push(w);
    let next = 0;
    // Lines of one width: every rotation keeps a part of the same size.
    const more = (n: number) => w.write(Array.from({ length: n }, () => `line ${String(next++).padStart(6, "0")}\n`).join(""));
    await more(400);
    await rotateReplicaLog(dir, "j", rotation, locks);
    const [tl] = await readReplicaLogs(dir, { replica: "j", tailLines: 4 }, { locks });
    assert.deepEqual(numbers(tl!.lines), [396, 397, 398, 399]);
    // A follow that is four lines into the kept part's end.
    const [ino, end] = tl!.cursor.split(":");
    const cursor = `${ino}:${Number(end) - 4 * 12}`;
    await more(400);
    // The span's write fails (as on a full disk): an immutable file cannot be replaced (root only).
    const meta = join(dir, "replica-j.log.meta");
    try {
      execFileSync("chattr", ["+i", meta], { stdio: "ignore" });
    } catch {
      t.skip("chattr +i is not available here");
      return;
    }
    try {
      await assert.rejects(rotateReplicaLog(dir, "j", rotation, locks));
    } finally {
      execFileSync("chattr", ["-i", meta]);
    }
    const [c] = await readReplicaLogs(dir, { replica: "j", cursors: { j: cursor } }, { locks });
    // Its kept part is gone with the failed rotation: the follow goes on at the live file's start, in order.
    assert.deepEqual(numbers(c!.lines).slice(0, 4), [400, 401, 402, 403]);
  });

  it("a follow further behind than the kept part resumes at its first line after one rotation", async () => {
    const write = await writer("k");
    await write(0, 10);
    const [t] = await readReplicaLogs(dir, { replica: "k", tailLines: 1 }, { locks });
    await write(10, 610);
    const [a] = await readReplicaLogs(dir, { replica: "k", cursors: { k: t!.cursor } }, { maxBytes: 700, locks });
    assert.equal(a!.lines[0], "line 10");
    await rotateReplicaLog(dir, "k", rotation, locks);
    const firstKept = Number(/^line (\d+)/.exec(await readFile(keptPath(dir, "k"), "utf8"))![1]);
    assert.ok(firstKept > Number(/\d+$/.exec(a!.lines.at(-1)!)![0]) + 1, "the kept part starts past where the follow was");
    const [b] = await readReplicaLogs(dir, { replica: "k", cursors: { k: a!.cursor } }, { maxBytes: 700, locks });
    assert.equal(b!.lines[0], `line ${firstKept}`);
  });

  it("pruning removes a rotation's temporary files a stopped control plane left, not one a rotation is writing", async () => {
    const old = join(dir, "replica-z.log.1.12345.0a1b2c3d4e5f.tmp");
    const fresh = join(dir, "replica-z.log.meta.12345.0a1b2c3d4e60.tmp");
    const state = join(dir, "state.json.12345.0a1b2c3d4e61.tmp");
    await writeFile(old, "x".repeat(1000));
    await writeFile(fresh, "{}");
    await writeFile(state, "{}");
    await utimes(old, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    await utimes(state, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    await pruneReplicaLogs(dir, new Set());
    const left = await readdir(dir);
    assert.ok(!left.includes("replica-z.log.1.12345.0a1b2c3d4e5f.tmp"), "the old one is gone");
    assert.ok(!left.includes("state.json.12345.0a1b2c3d4e61.tmp"), "and the state file's left by a crash");
    assert.ok(left.includes("replica-z.log.meta.12345.0a1b2c3d4e60.tmp"), "the one being written stays");
  });

  it("an unreadable span record counts as none: the live file is read, never an error", async () => {
    const write = await writer("f");
    await write(0, 3);
    await writeFile(join(dir, "replica-f.log.meta"), "{not json");
    assert.deepEqual(await readLogSpan(dir, "f"), { base: 0, prev: 0 });
    const [t] = await readReplicaLogs(dir, { replica: "f", tailLines: 5 }, { locks });
    assert.deepEqual(numbers(t!.lines), [0, 1, 2]);
  });
});
