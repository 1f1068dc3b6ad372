import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, it } from "node:test";
import { childProcesses, running, type Proc } from "./children-on-signal.js";
import { waitFor } from "./wait.js";

const helper = new URL("./children-on-signal.js", import.meta.url).href;
// Each says "ready" once set up, so the parent's signal never comes before a child's handler.
const PLAIN_CHILD = "setInterval(() => {}, 1000); console.log('ready')";
const DEAF_CHILD = "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('ready')";
/** Every wait here is bounded: a helper that never lets its process go fails the case, it does not hang the run. */
const BOUND_MS = 20_000;

/** Resolves with `p`, or rejects after `ms` naming `what`. */
function within<T>(p: Promise<T>, what: string, ms = BOUND_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); })]).finally(() => clearTimeout(timer));
}

/**
 * The children of a test's parent script, taken before it is signalled: whatever of them still
 * runs after the case (a helper that failed to stop it) is SIGKILLed then, if still that process.
 */
const tracked: Proc[] = [];
const track = (parentPid: number) => tracked.push(...childProcesses(parentPid));
afterEach(() => {
  for (const p of tracked.splice(0)) if (running(p)) process.kill(p.pid, "SIGKILL");
});

/** How a process ended: its exit code, or the signal that killed it. */
const ended = (proc: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));

/** Lines of `proc`'s stdout, as they come. */
function lines(proc: ChildProcess): { next(what: string): Promise<string>; all: string[] } {
  const all: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  let buf = "";
  proc.stdout!.on("data", (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      all.push(l);
      waiting.shift()?.(l);
    }
  });
  let read = 0;
  return {
    all,
    next: (what) => (read < all.length ? Promise.resolve(all[read++]!) : within(new Promise<string>((r) => waiting.push((l) => { read++; r(l); })), what)),
  };
}

/** A parent as a benchmark is: its child in a session of its own (detached), printed by pid. */
function parent(opts: { install: boolean; child: string; ownHandler?: boolean; graceMs?: number; awaitsChild?: boolean }) {
  const script = [
    `import { spawn } from "node:child_process";`,
    opts.install ? `import { stopChildrenOnSignal } from ${JSON.stringify(helper)}; stopChildrenOnSignal(${opts.graceMs ?? 10_000}, 0);` : "",
    opts.ownHandler ? `process.on("SIGTERM", () => setTimeout(() => process.exit(7), 300));` : "",
    `process.on("exit", (code) => console.log("exit listener", code));`,
    `const c = spawn(process.execPath, ["-e", ${JSON.stringify(opts.child)}], { detached: true, stdio: ["ignore", "pipe", "ignore"] });`,
    `c.stdout.once("data", () => console.log(c.pid)); setInterval(() => {}, 1000);`,
    // A benchmark awaits what it started, and fails when it ends: a second child, plain, whose exit throws.
    opts.awaitsChild ? `const load = spawn(process.execPath, ["-e", ${JSON.stringify(PLAIN_CHILD)}], { detached: true, stdio: "ignore" }); await new Promise((r) => load.once("exit", r)); throw new Error("the load generator exited");` : "",
  ].join("\n");
  const proc = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const out = lines(proc);
  const exited = ended(proc);
  const childPid = within(Promise.race([out.next("the child's pid").then(Number), exited.then((e) => { throw new Error(`the parent ended first: ${JSON.stringify(e)}`); })]), "the child's pid");
  return { proc, out, childPid, exited: within(exited, "the parent's exit") };
}

const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

describe("stopChildrenOnSignal: a benchmark stopped by a signal stops what it started", { skip: process.platform !== "linux" && "reads /proc", timeout: 60_000 }, () => {
  it("without it, a child in a session of its own outlives its parent (what this helper is for)", async () => {
    const p = parent({ install: false, child: PLAIN_CHILD });
    const pid = await p.childPid;
    track(p.proc.pid!); // SIGKILLed after the case, if still that process (its start time), not a pid reused since
    p.proc.kill("SIGTERM");
    await p.exited;
    assert.equal(alive(pid), true);
  });

  it("SIGTERM: the child is gone before the parent goes, which then dies of the signal", async () => {
    const p = parent({ install: true, child: PLAIN_CHILD });
    const pid = await p.childPid;
    assert.equal(alive(pid), true);
    track(p.proc.pid!);
    p.proc.kill("SIGTERM");
    assert.deepEqual(await p.exited, { code: null, signal: "SIGTERM" });
    // Not waited for: the helper let its process go only once the child had stopped.
    assert.equal(alive(pid), false);
    // The script's exit listeners ran, as on process.exit (a folder a benchmark removes there).
    assert.ok(p.out.all.includes("exit listener 143"), p.out.all.join("\n"));
  });

  it("a child that ignores SIGTERM gets SIGKILL once the grace is over, and the parent waits for it", async () => {
    const p = parent({ install: true, child: DEAF_CHILD, graceMs: 300 });
    const pid = await p.childPid;
    track(p.proc.pid!);
    p.proc.kill("SIGINT");
    assert.deepEqual(await p.exited, { code: null, signal: "SIGINT" });
    assert.equal(alive(pid), false);
  });

  it("a script that fails because its child stopped does not end before the grace (its deaf child gets SIGKILL)", async () => {
    const p = parent({ install: true, child: DEAF_CHILD, graceMs: 500, awaitsChild: true });
    const pid = await p.childPid;
    track(p.proc.pid!);
    p.proc.kill("SIGTERM");
    assert.deepEqual(await p.exited, { code: null, signal: "SIGTERM" });
    assert.equal(alive(pid), false);
  });

  it("a child the script starts while the helper waits gets SIGTERM in the grace, not only the SIGKILL at its end", async () => {
    // The first child deaf, so the helper waits out its grace. It shares the script's stdout and
    // says when the helper's SIGTERM reached it: only then is the script told to start more, so
    // every one of those starts after the helper ran. The script prints how each of them ended.
    const deaf = "process.on('SIGTERM', () => console.log('deaf: SIGTERM')); setInterval(() => {}, 1000); console.log('ready')";
    const script = [
      `import { spawn } from "node:child_process";`,
      `import { stopChildrenOnSignal } from ${JSON.stringify(helper)}; stopChildrenOnSignal(3000, 0);`,
      `spawn(process.execPath, ["-e", ${JSON.stringify(deaf)}], { detached: true, stdio: ["ignore", "inherit", "ignore"] });`,
      `process.stdin.once("data", () => { for (let i = 0; i < 3; i++) { const c = spawn(process.execPath, ["-e", ${JSON.stringify(PLAIN_CHILD)}], { detached: true, stdio: "ignore" }); c.once("exit", (code, sig) => console.log("late", c.pid, sig)); } });`,
    ].join("\n");
    const proc = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["pipe", "pipe", "inherit"] });
    const out = lines(proc);
    const exited = within(ended(proc), "the script's exit");
    assert.equal(await out.next("the deaf child ready"), "ready");
    track(proc.pid!);
    proc.kill("SIGTERM");
    assert.equal(await out.next("the helper's SIGTERM to the deaf child"), "deaf: SIGTERM");
    proc.stdin!.end("go\n");
    assert.deepEqual(await exited, { code: null, signal: "SIGTERM" });
    const late = out.all.filter((l) => l.startsWith("late "));
    assert.equal(late.length, 3, out.all.join("\n"));
    for (const l of late) assert.match(l, /SIGTERM$/, out.all.join("\n"));
  });

  it("a script with its own handler keeps it: the script exits when it chooses, its child is signalled then", async () => {
    const p = parent({ install: true, child: PLAIN_CHILD, ownHandler: true });
    const pid = await p.childPid;
    track(p.proc.pid!);
    p.proc.kill("SIGTERM");
    assert.deepEqual(await p.exited, { code: 7, signal: null });
    await waitFor(() => !alive(pid), { timeoutMs: 10_000, intervalMs: 20, message: "child gone" });
  });

  it("a process is told from a later one given its pid by its start time", async () => {
    const c = spawn(process.execPath, ["-e", PLAIN_CHILD], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      await within(new Promise((r) => c.stdout!.once("data", r)), "a child ready");
      const me = childProcesses(process.pid).find((p) => p.pid === c.pid);
      assert.ok(me, "the child is found by its parent pid");
      assert.equal(running(me), true);
      assert.equal(running({ pid: me.pid, start: String(Number(me.start) + 1) }), false);
    } finally {
      c.kill("SIGKILL");
    }
  });
});
