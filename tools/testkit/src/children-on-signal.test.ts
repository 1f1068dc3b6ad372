import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { waitFor } from "./wait.js";

const helper = new URL("./children-on-signal.js", import.meta.url).href;
// Each says "ready" once set up, so the parent's signal never comes before a child's handler.
const PLAIN_CHILD = "setInterval(() => {}, 1000); console.log('ready')";
const DEAF_CHILD = "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('ready')";

/** A parent as a benchmark is: its child in a session of its own (detached), printed by pid. */
function parent(opts: { install: boolean; child: string; ownHandler?: boolean; graceMs?: number }) {
  const script = [
    `import { spawn } from "node:child_process";`,
    opts.install ? `import { stopChildrenOnSignal } from ${JSON.stringify(helper)}; stopChildrenOnSignal(${opts.graceMs ?? 10_000});` : "",
    opts.ownHandler ? `process.on("SIGTERM", () => setTimeout(() => process.exit(7), 300));` : "",
    `const c = spawn(process.execPath, ["-e", ${JSON.stringify(opts.child)}], { detached: true, stdio: ["ignore", "pipe", "ignore"] });`,
    `c.stdout.once("data", () => console.log(c.pid)); setInterval(() => {}, 1000);`,
  ].join("\n");
  const proc = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const childPid = new Promise<number>((resolve) => proc.stdout.once("data", (c: Buffer) => resolve(Number(c.toString().trim()))));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return { proc, childPid, exited };
}

const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

describe("stopChildrenOnSignal: a benchmark stopped by a signal stops what it started", { skip: process.platform !== "linux" && "reads /proc" }, () => {
  it("without it, a child in a session of its own outlives its parent (what this helper is for)", async () => {
    const p = parent({ install: false, child: PLAIN_CHILD });
    const pid = await p.childPid;
    p.proc.kill("SIGTERM");
    await p.exited;
    try {
      assert.equal(alive(pid), true);
    } finally {
      process.kill(pid, "SIGKILL");
    }
  });

  it("SIGTERM: the child is stopped, then the parent exits as the signal would have (143)", async () => {
    const p = parent({ install: true, child: PLAIN_CHILD });
    const pid = await p.childPid;
    assert.equal(alive(pid), true);
    p.proc.kill("SIGTERM");
    assert.equal(await p.exited, 143);
    await waitFor(() => !alive(pid), { timeoutMs: 10_000, intervalMs: 20, message: "child gone" });
  });

  it("a child that ignores SIGTERM gets SIGKILL once the grace is over", async () => {
    const p = parent({ install: true, child: DEAF_CHILD, graceMs: 300 });
    const pid = await p.childPid;
    p.proc.kill("SIGINT");
    assert.equal(await p.exited, 130);
    await waitFor(() => !alive(pid), { timeoutMs: 10_000, intervalMs: 20, message: "child gone" });
  });

  it("a child the script starts while the helper waits is stopped too", async () => {
    // The first child deaf (and ready before the signal), so the helper waits out its grace while
    // the script starts another every 100 ms, each printed as soon as it is spawned.
    const script = [
      `import { spawn } from "node:child_process";`,
      `import { stopChildrenOnSignal } from ${JSON.stringify(helper)}; stopChildrenOnSignal(800);`,
      `const first = spawn(process.execPath, ["-e", ${JSON.stringify(DEAF_CHILD)}], { detached: true, stdio: ["ignore", "pipe", "ignore"] });`,
      `first.stdout.once("data", () => { console.log(first.pid); let n = 0; const t = setInterval(() => (n++ < 8 ? console.log(spawn(process.execPath, ["-e", ${JSON.stringify(PLAIN_CHILD)}], { detached: true, stdio: "ignore" }).pid) : clearInterval(t)), 100); });`,
    ].join("\n");
    const proc = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const pids: { pid: number; afterSignal: boolean }[] = [];
    let signalled = false;
    proc.stdout.on("data", (c: Buffer) => {
      for (const line of c.toString().split("\n").filter(Boolean)) pids.push({ pid: Number(line), afterSignal: signalled });
      if (!signalled) {
        signalled = true;
        proc.kill("SIGTERM");
      }
    });
    const code = await new Promise<number | null>((resolve) => proc.once("exit", resolve));
    assert.equal(code, 143);
    assert.ok(pids.some((p) => p.afterSignal), `no child started after the signal: ${JSON.stringify(pids)}`);
    for (const { pid } of pids) await waitFor(() => !alive(pid), { timeoutMs: 10_000, intervalMs: 20, message: `child ${pid} gone` });
  });

  it("a script with its own handler keeps it: its child is signalled, the script exits when it chooses", async () => {
    const p = parent({ install: true, child: PLAIN_CHILD, ownHandler: true });
    const pid = await p.childPid;
    p.proc.kill("SIGTERM");
    assert.equal(await p.exited, 7);
    await waitFor(() => !alive(pid), { timeoutMs: 10_000, intervalMs: 20, message: "child gone" });
  });
});
