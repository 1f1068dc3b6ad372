import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, linkSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, type RuntimeSpec } from "@flowplane/core";
import { memoryLogger } from "@flowplane/logging";
import { waitFor } from "@flowplane/testkit";
import { emptyUid, endProcesses, strays, straysOf, treeOf, uidsWithStrays } from "./containment.js";
import { LocalDriver, type LocalDriverOptions } from "./local-driver.js";

/** Running: there, and not a zombie (an orphan's zombie waits for the machine's init to reap it). */
async function running(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
import type { ProcessTable } from "./process-usage.js";
import { DEFAULT_UID_BASE, DEFAULT_UID_COUNT, preferredUid } from "./sandbox.js";

/**
 * A replica's processes end with it, wherever they went (containment.ts): a child in a session
 * of its own (as lfx's Python is started) and a daemon that double-forked, with real processes.
 */
const isRoot = process.getuid?.() === 0;
/** `sleep`'s argument for the processes of this run: a number of seconds no other run (or leftover) uses. */
const arg = (n: number) => `${n}.${process.pid}`;
const ME = process.getuid?.() ?? 1000;

/** Pids of `sleep <arg>` processes now, with their real uid. */
async function sleeping(arg: string): Promise<{ pid: number; uid: number }[]> {
  const out = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = (await readFile(`/proc/${e}/cmdline`, "utf8")).split("\0");
      if (argv[0]?.endsWith("sleep") && argv[1] === arg) out.push({ pid: Number(e), uid: Number(/^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${e}/status`, "utf8"))?.[1]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A fork relay: each generation forks the next (a subshell, no exec: a fraction of a millisecond) and exits. */
const RELAY = `#!/bin/sh\ngo() { (go &); }\ngo\n`;

/** The pids of the processes of a fork relay tagged `tag` in one reading of /proc, newest first. */
function relayPids(tag: string): number[] {
  // Synchronous and newest pid first: a generation lives about a millisecond.
  const pids = readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => b - a);
  return pids.filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return argv[0] === "sh" && argv[2] === tag;
    } catch {
      return false; // gone meanwhile
    }
  });
}

/**
 * Whether a fork relay tagged `tag` runs: sampled over 300 ms, as one reading of /proc can miss
 * every generation of a relay (each starts the next and exits). Processes in `dying` (SIGKILLed,
 * still in /proc until the kernel runs their exit, which on a loaded machine can wait) do not
 * count: a relay that runs keeps making new ones.
 */
async function relayRuns(tag: string, dying: ReadonlySet<number> = new Set()): Promise<boolean> {
  for (let i = 0; i < 15; i++) {
    if (relayPids(tag).some((pid) => !dying.has(pid))) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/**
 * A stand-in runtime (never ready): starts `sleep <child>` in a session of its own, as the
 * runtime starts lfx, and `sleep <daemon>` double-forked with setsid, then idles.
 */
const replicaScript = (child: string, daemon: string) => `const { spawn } = require("node:child_process");
spawn("sleep", ["${child}"], { detached: true, stdio: "ignore" }).unref();
spawn("sh", ["-c", "setsid sleep ${daemon} >/dev/null 2>&1 </dev/null &"], { stdio: "ignore" });
process.on("SIGTERM", () => process.exit(0));
setInterval(() => {}, 1000);`;

describe("containment: which processes are a deployment's strays", () => {
  // 10 is a replica (uid 2000) adopted after a control plane restart (so under init), with a
  // child 11 and a grandchild 12; 20 is 2000's and under init too (a double fork), with a child;
  // 30 is 2000's and a child of the control plane (pid 5) but no recorded replica (CLONE_PARENT,
  // or the control plane as pid 1); 40 is another uid's; 50 is 2000's but a zombie.
  const table: ProcessTable = new Map([
    [1, { ppid: 0, uid: 0, cpuTicks: 0, rssBytes: 0 }],
    [5, { ppid: 1, uid: ME, cpuTicks: 0, rssBytes: 0 }],
    [10, { ppid: 1, uid: 2000, cpuTicks: 0, rssBytes: 0 }],
    [11, { ppid: 10, uid: 2000, cpuTicks: 0, rssBytes: 0 }],
    [12, { ppid: 11, uid: 2000, cpuTicks: 0, rssBytes: 0 }],
    [20, { ppid: 1, uid: 2000, cpuTicks: 0, rssBytes: 0 }],
    [21, { ppid: 20, uid: 2000, cpuTicks: 0, rssBytes: 0 }],
    [30, { ppid: 5, uid: 2000, cpuTicks: 0, rssBytes: 0 }],
    [40, { ppid: 1, uid: 3000, cpuTicks: 0, rssBytes: 0 }],
    [50, { ppid: 1, uid: 2000, cpuTicks: 0, rssBytes: 0, zombie: true }],
  ]);

  it("a process of the uid outside every replica's tree, and its children; not the replicas', not another uid's, not a zombie", () => {
    assert.deepEqual([...strays(2000, [10])(table)].sort(), [20, 21, 30]);
    assert.deepEqual([...strays(2000, [10, 20, 30])(table)], [], "every replica's tree is kept");
    assert.deepEqual([...strays(2000, [])(table)].sort(), [10, 11, 12, 20, 21, 30], "no replica recorded: every live process of the uid");
    assert.deepEqual([...straysOf(new Map([[2000, [10, 20]], [3000, []]]))(table)].sort(), [30, 40], "one selection for every deployment");
    assert.deepEqual([...uidsWithStrays(table, new Map([[2000, [10]], [3000, [40]]]))], [2000]);
    assert.deepEqual([...uidsWithStrays(table, new Map([[2000, [10, 20, 30]]]))], []);
  });

  it("never root's processes nor the control plane's own, whatever uid is asked for", () => {
    assert.deepEqual([...strays(0, [])(table)], []);
    assert.deepEqual([...strays(ME, [])(table)], []);
    assert.deepEqual([...uidsWithStrays(table, new Map([[0, []], [ME, []]]))], []);
    assert.deepEqual([...strays(3000, [])(table)], [40]);
    assert.deepEqual([...strays(2000, [])(table)].sort(), [10, 11, 12, 20, 21, 30], "zombies left to their reaper");
  });
});

describe("containment: a tree is ended whole, even while it forks", { timeout: 120_000 }, () => {
  it("the root, a child in a session of its own and that child's child", async () => {
    const root = spawn(process.execPath, ["-e", `const { spawn } = require("node:child_process");
      spawn("sh", ["-c", "sleep ${arg(7201)} & sleep ${arg(7201)}"], { detached: true, stdio: "ignore" }).unref();
      setInterval(() => {}, 1000);`], { stdio: "ignore" });
    await waitFor(async () => (await sleeping(arg(7201))).length === 2, { timeoutMs: 20_000, intervalMs: 50 });
    const before = (await sleeping(arg(7201))).map((s) => s.pid);
    const ended = endProcesses(treeOf(root.pid!));
    assert.ok(ended.size >= 4, `the node root, sh and both sleeps: ${[...ended].join(",")}`);
    await waitFor(async () => (await sleeping(arg(7201))).length === 0 && !(await running(root.pid!)), { timeoutMs: 20_000, intervalMs: 50, message: "no process of the tree left" });
    for (const p of before) assert.equal(await running(p), false);
  });

  it("a process forking all the time: what it forks while /proc is read is found and ended too", async () => {
    // A shell forking as fast as it can, each child in a session of its own (as lfx's Python is
    // started); bounded, so a failure cannot leave it forking.
    const root = spawn("sh", ["-c", `i=0; while [ $i -lt 3000 ]; do setsid sleep ${arg(7202)} & i=$((i+1)); done; wait`], { stdio: "ignore" });
    await waitFor(async () => (await sleeping(arg(7202))).length >= 50, { timeoutMs: 20_000, intervalMs: 20 });
    endProcesses(treeOf(root.pid!));
    await waitFor(async () => (await sleeping(arg(7202))).length === 0 && !(await running(root.pid!)), { timeoutMs: 20_000, intervalMs: 50, message: "nothing it forked is left" });
  });
});

describe("local driver: a replica's processes end with it", { timeout: 300_000 }, () => {
  let root: string;
  const drivers: LocalDriver[] = [];
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-contain-"));
  });
  after(async () => {
    for (const d of drivers) {
      for (const name of await d.list()) await d.delete(name).catch(() => undefined);
      await d.close();
    }
    for (const n of [7301, 7302, 7311, 7312, 7321, 7322, 7331, 7332, 7333, 7341, 7361, 7362]) for (const s of await sleeping(arg(n))) process.kill(s.pid, "SIGKILL");
    await rm(root, { recursive: true, force: true });
    await rm(join(tmpdir(), `flowplane-relay2-${process.pid}.sh`), { force: true });
  });

  const driverWith = async (name: string, child: string, daemon: string, over: Partial<LocalDriverOptions>) => {
    const d = await LocalDriver.create({
      root: join(root, name), command: [process.execPath, "-e", replicaScript(child, daemon), "--"], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 100, backoff: { baseMs: 60_000, maxMs: 60_000 }, shutdownGraceMs: 2_000, ...over,
    });
    drivers.push(d);
    return d;
  };
  const spec = (resourceName: string): RuntimeSpec => ({
    deploymentId: `dep-${resourceName}`, projectId: "p", resourceName, generation: 1,
    bundle: { name: "b", version: "1", digest: "d" }, bundleUrl: "http://127.0.0.1:9/", identityToken: "t", gatewaySecret: "gw",
    engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {},
  });

  it("killed by the driver (here: not ready in time), without a sandbox: the child in a session of its own dies with it", async () => {
    const d = await driverWith("none", arg(7301), arg(7302), { isolation: { request: "none" }, startTimeoutMs: 1_500 });
    await d.apply(spec("timeout-a1"));
    const [pid] = d.pids("timeout-a1");
    await waitFor(async () => (await sleeping(arg(7301))).length === 1, { timeoutMs: 20_000, intervalMs: 50 });
    const [child] = await sleeping(arg(7301));
    await waitFor(async () => !(await running(pid!)), { timeoutMs: 20_000, intervalMs: 50, message: "the replica is killed after its start timeout" });
    await waitFor(async () => !(await running(child!.pid)), { timeoutMs: 20_000, intervalMs: 50, message: "its child outlived it" });
    assert.equal((await d.observe("timeout-a1")).replicas[0]?.lastError?.split(":")[0], "StartTimeout");
  });

  for (const request of ["user", "auto"] as const) {
    it(`a flow that forks without end is held to its deployment's process count (isolation ${request}: a uid per deployment)`, { skip: !isRoot && "only root gives a deployment a uid of its own" }, async () => {
      // Tries to start 300 processes; the limit is 100 tasks for the whole uid (Node's own threads included).
      const script = `const { spawn } = require("node:child_process");
        let started = 0, refused = 0;
        for (let i = 0; i < 300; i++) { const c = spawn("sleep", ["${arg(7341)}"], { stdio: "ignore" }); c.once("spawn", () => started++); c.once("error", () => refused++); }
        setTimeout(() => console.log(JSON.stringify({ started, refused })), 2000);
        setInterval(() => {}, 1000);`;
      const d = await LocalDriver.create({
        root: join(root, `fork-${request}`), command: [process.execPath, "-e", script, "--"], baseEnv: { PATH: process.env.PATH ?? "" },
        probeIntervalMs: 100, backoff: { baseMs: 60_000, maxMs: 60_000 }, shutdownGraceMs: 2_000, isolation: { request, maxProcesses: 100 },
      });
      drivers.push(d);
      await d.apply(spec(`fork-${request}-e1`));
      const log = join(root, `fork-${request}`, `fork-${request}-e1`);
      let counts: { started: number; refused: number } | undefined;
      await waitFor(async () => {
        for (const f of await readdir(log)) {
          const m = /\{"started":\d+,"refused":\d+\}/.exec(await readFile(join(log, f), "utf8").catch(() => ""));
          if (m) counts = JSON.parse(m[0]) as { started: number; refused: number };
        }
        return counts !== undefined;
      }, { timeoutMs: 20_000, intervalMs: 100, message: "the replica reports what it could start" });
      assert.ok(counts!.refused > 0 && counts!.started < 100, `held below the limit: ${JSON.stringify(counts)}`);
      assert.ok(counts!.started > 50, `but not below what a flow needs: ${JSON.stringify(counts)}`);
      await d.delete(`fork-${request}-e1`);
      await waitFor(async () => (await sleeping(arg(7341))).length === 0, { timeoutMs: 20_000, intervalMs: 50, message: "its processes end with it" });
    });
  }

  it("in the sandbox, bubblewrap killed alone: the runtime it started (pid 1 of its namespace) goes too, and the replica restarts", { skip: !isRoot && "the sandbox's runtime runs as another uid only under root" }, async () => {
    const d = await driverWith("sandbox-bwrap", arg(7361), arg(7362), { isolation: { request: "auto" }, backoff: { baseMs: 200, maxMs: 200 } });
    if (d.isolation.mode !== "sandbox") {
      assert.ok(process.env.CI !== "true", "CI must have the sandbox");
      return;
    }
    await d.apply(spec("bwrap-g1"));
    await waitFor(async () => (d.pids("bwrap-g1")[0] ?? 0) > 0 && (await running(d.pids("bwrap-g1")[0]!)), { timeoutMs: 20_000, intervalMs: 50 });
    const [runtime] = d.pids("bwrap-g1");
    const stat = await readFile(`/proc/${runtime}/stat`, "utf8");
    const bwrap = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    assert.match(await readFile(`/proc/${bwrap}/cmdline`, "utf8"), /bwrap/, "the runtime's parent is bubblewrap");
    process.kill(bwrap, "SIGKILL");
    await waitFor(async () => !(await running(runtime!)), { timeoutMs: 20_000, intervalMs: 50, message: "the runtime outlived its bubblewrap" });
    await waitFor(async () => { const [next] = d.pids("bwrap-g1"); return next !== undefined && next > 0 && next !== runtime && (await running(next)); }, { timeoutMs: 20_000, intervalMs: 50, message: "the replica is started again" });
    await d.delete("bwrap-g1");
  });

  describe("isolation `user` (a uid per deployment, no sandbox)", { skip: !isRoot && "only root gives a deployment a uid of its own" }, () => {
    it("a double-forked daemon is ended while its replica runs on; the replica's own child is kept", async () => {
      const logs = memoryLogger();
      const d = await driverWith("user-run", arg(7311), arg(7312), { isolation: { request: "user" }, memoryCheckIntervalMs: 1_500, log: logs.log });
      assert.equal(d.isolation.mode, "user");
      await d.apply(spec("daemon-b1"));
      const [pid] = d.pids("daemon-b1");
      await waitFor(async () => (await sleeping(arg(7311))).length === 1, { timeoutMs: 20_000, intervalMs: 50 });
      const [child] = await sleeping(arg(7311));
      assert.notEqual(child!.uid, ME, "the replica's processes run under the deployment's uid");
      // A check (every 1.5 s) ends the daemon, and says so.
      await waitFor(async () => logs.text().includes("ended processes that left their replica"), { timeoutMs: 20_000, intervalMs: 50, message: "no check ended anything" });
      await waitFor(async () => (await sleeping(arg(7312))).length === 0, { timeoutMs: 20_000, intervalMs: 50, message: "the double-forked daemon lives on" });
      assert.ok(await running(pid!), "the replica itself runs on");
      assert.ok(await running(child!.pid), "and so does the child in its tree");
    });

    it("deleting the deployment leaves no process under its uid, however they left the tree", async () => {
      const d = await driverWith("user-delete", arg(7321), arg(7322), { isolation: { request: "user" }, memoryCheckIntervalMs: 600_000 });
      await d.apply(spec("delete-c1"));
      await waitFor(async () => (await sleeping(arg(7321))).length === 1 && (await sleeping(arg(7322))).length === 1, { timeoutMs: 20_000, intervalMs: 50 });
      assert.notEqual((await sleeping(arg(7322)))[0]!.uid, ME, "the daemon runs under the deployment's uid");
      await d.delete("delete-c1");
      // The replica's SIGTERM handler exits at once; its child and the daemon, outside its tree, go with the uid.
      assert.deepEqual(await sleeping(arg(7321)), [], "the child in a session of its own");
      assert.deepEqual(await sleeping(arg(7322)), [], "the double-forked daemon");
    });

    it("emptying a uid ends a fork relay at once", async () => {
      const uid = preferredUid(`relay-direct-${process.pid}`, DEFAULT_UID_BASE, DEFAULT_UID_COUNT);
      const relay = join(tmpdir(), `flowplane-relay2-${process.pid}.sh`);
      await writeFile(relay, RELAY, { mode: 0o755 });
      spawn("sh", [relay, arg(7352)], { uid, gid: uid, stdio: "ignore", detached: true }).unref();
      await waitFor(async () => (await relayRuns(arg(7352))), { timeoutMs: 20_000, intervalMs: 20, message: "the relay starts" });
      await emptyUid(uid);
      // What is still in /proc right after was killed too (a generation not yet through its exit):
      // the relay is ended if no generation appears beyond those.
      assert.equal(await relayRuns(arg(7352), new Set(relayPids(arg(7352)))), false);
    });

    it("a uid some process still runs under is not handed to a new deployment, and that process is left alone", async () => {
      const d = await driverWith("user-fresh", arg(7333), arg(7332), { isolation: { request: "user" }, memoryCheckIntervalMs: 600_000 });
      const preferred = preferredUid("fresh-d1", DEFAULT_UID_BASE, DEFAULT_UID_COUNT);
      // Something under the uid the deployment would get: left by a control plane that died
      // before removing its deployment, or another install given the same range.
      const leftover = spawn("sleep", [arg(7331)], { uid: preferred, gid: preferred, stdio: "ignore", detached: true });
      leftover.unref();
      await waitFor(async () => (await sleeping(arg(7331))).some((s) => s.uid === preferred), { timeoutMs: 20_000, intervalMs: 50 });
      await d.apply(spec("fresh-d1"));
      await waitFor(async () => (await sleeping(arg(7333))).length === 1, { timeoutMs: 20_000, intervalMs: 50 });
      const given = (await sleeping(arg(7333)))[0]!.uid;
      assert.notEqual(given, preferred, "the new deployment got another uid");
      assert.ok(given >= DEFAULT_UID_BASE && given < DEFAULT_UID_BASE + DEFAULT_UID_COUNT);
      assert.ok(await running(leftover.pid!), "the leftover, which may not be ours, is not killed");
    });
  });
});

it("a uid is emptied by a control plane whose Node other users cannot run (nvm under root's 0700 home)", { skip: !isRoot && "only root runs a helper under another uid" }, async () => {
  const home = await mkdtemp(join(tmpdir(), "flowplane-closed-home-")); // 0700, as /root
  const uid = 1_600_400_000 + (process.pid % 1000);
  const sleeper = spawn("sleep", ["60"], { uid, gid: uid, stdio: "ignore" });
  try {
    const node = join(home, "node", "bin", "node");
    await mkdir(join(home, "node", "bin"), { recursive: true, mode: 0o755 });
    try {
      linkSync(process.execPath, node);
    } catch {
      copyFileSync(process.execPath, node);
      await chmod(node, 0o755);
    }
    const containment = new URL("./containment.js", import.meta.url).href;
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      let err = "";
      const c = spawn(node, ["--input-type=module", "-e", `const { emptyUid } = await import(${JSON.stringify(containment)}); await emptyUid(${uid});`], { stdio: ["ignore", "ignore", "pipe"] });
      c.stderr.on("data", (b: Buffer) => (err += b.toString()));
      c.once("close", (code) => resolve({ code, err }));
    });
    assert.equal(r.code, 0, r.err);
    await waitFor(async () => sleeper.signalCode === "SIGKILL", { timeoutMs: 5_000, intervalMs: 20, message: "the uid's process is killed" });
  } finally {
    sleeper.kill("SIGKILL");
    await rm(home, { recursive: true, force: true });
  }
});
