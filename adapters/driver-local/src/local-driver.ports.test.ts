import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, GATEWAY_SECRET_HEADER, listenerId, loopbackListeners, type RuntimeSpec } from "@flowplane/core";
import { startBundleServer, type BundleServer } from "@flowplane/driver-suite";
import { loadFixture, repoRoot } from "@flowplane/testkit";
import { memoryLogger } from "@flowplane/logging";
import { LocalDriver, type LocalDriverOptions } from "./local-driver.js";
import { loopbackListener } from "./processes.js";
import { readState } from "./state.js";

const RUNTIME = join(repoRoot, "apps", "runtime", "dist", "main.js");
const GATEWAY = "ports-gateway-secret";
const isRoot = process.getuid?.() === 0;
const UID_BASE = 1_600_410_000;
/** A uid of no deployment of this driver's range. */
const OTHER_UID = 1_600_400_000;

/** Whether binding 127.0.0.1:`port` fails because something listens there. */
async function taken(port: number): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "EADDRINUSE"));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(false)));
  });
}

/** The socket inodes `pid` holds open, as its /proc/<pid>/fd links name them. */
async function socketsOf(pid: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    if (link.startsWith("socket:")) out.add(link);
  }
  return out;
}

/** The inode of the socket listening on exactly 127.0.0.1:`port` (/proc/net/tcp). */
async function listenerOf(port: number): Promise<string | undefined> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of (await readFile("/proc/net/tcp", "utf8")).split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === "0A") return `socket:[${f[9]}]`;
  }
  return undefined;
}

describe("local driver: a replica's ports are never free for another process to take", () => {
  let root: string;
  let bundles: BundleServer;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-ports-"));
    bundles = await startBundleServer([loadFixture("simple-chat-no-llm")]);
  });
  after(async () => {
    await bundles.close();
    await rm(root, { recursive: true, force: true });
  });

  /**
   * A driver whose runtime starts a second late (a shell that sleeps, then execs it): the time
   * in which a port picked free, for the replica to bind, was anyone's.
   */
  async function setup(over: Partial<LocalDriverOptions> = {}) {
    const logs = memoryLogger();
    const driver = await LocalDriver.create({
      root, command: ["/bin/sh", "-c", 'sleep 1; exec "$0" "$@"', process.execPath, RUNTIME], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 50, backoff: { baseMs: 200, maxMs: 1000 }, shutdownGraceMs: 3000, log: logs.log,
      isolation: { uidBase: UID_BASE, uidCount: 100 },
      ...over,
    });
    const spec: RuntimeSpec = {
      deploymentId: "dep-ports", projectId: "p", resourceName: "ports", generation: 1,
      bundle: { name: "suite", version: bundles.versionTag, digest: bundles.digest },
      bundleUrl: bundles.url("dep-ports"), identityToken: bundles.token("dep-ports"), gatewaySecret: GATEWAY,
      engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
      resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {},
    };
    const untilReady = async () => {
      const deadline = Date.now() + 60_000;
      for (let seen = await driver.observe("ports"); !seen.replicas.some((r) => r.state === "ready"); seen = await driver.observe("ports")) {
        assert.ok(Date.now() < deadline, `not ready: ${JSON.stringify(seen)}`);
        await driver.apply(spec);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const close = async () => {
      await driver.delete("ports").catch(() => undefined);
      await driver.close();
    };
    return { driver, logs, spec, untilReady, close };
  }

  it("bound by the driver before the runtime starts, and served by the runtime on the same sockets", async () => {
    const { driver, spec, untilReady, close } = await setup();
    try {
      await driver.apply(spec);
      // The replica is spawned and recorded; its runtime has a second of sleep before it.
      let ports: number[] = [];
      for (let i = 0; i < 100 && ports.length === 0; i++) {
        const r = (await readState(join(root, "ports")))?.replicas[0];
        if (r && r.pid > 0 && r.probePort) ports = [r.port, r.probePort];
        else await new Promise((res) => setTimeout(res, 20));
      }
      assert.equal(ports.length, 2, "the replica's ports are recorded at its spawn");
      const [pid] = driver.pids("ports");
      // Still setpriv, or the shell's sleep: not node.
      assert.notEqual((await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0")[0], process.execPath, "the runtime has not started yet");
      for (const port of ports) assert.equal(await taken(port), true, `port ${port} is held while the runtime is not yet running`);
      await untilReady();
      assert.deepEqual(driver.endpoints("ports"), [`http://127.0.0.1:${ports[0]}`]);
      // The listeners are the very sockets the driver made, now held by the runtime alone.
      const [runtimePid] = driver.pids("ports");
      const own = await socketsOf(runtimePid!);
      for (const port of ports) assert.ok(own.has((await listenerOf(port))!), `the runtime holds the listener on ${port}`);
      const mine = await socketsOf(process.pid);
      for (const port of ports) assert.ok(!mine.has((await listenerOf(port))!), "the driver's copy is closed");
      const flows = await fetch(`${driver.endpoints("ports")[0]}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: GATEWAY } });
      assert.equal(flows.status, 200);
    } finally {
      await close();
    }
  });

  it("an adopted replica that dies leaves the endpoints at the next tick, not at its next probe: its port is anyone's from then on", async () => {
    const first = await setup();
    await first.untilReady();
    const [ep] = first.driver.endpoints("ports");
    await first.driver.close(); // its replicas live on
    // Ready probes a minute apart: only the tick's look at the process can see it gone.
    const { driver, close } = await setup({ readyProbeIntervalMs: 60_000 });
    try {
      assert.deepEqual(driver.endpoints("ports"), [ep], "adopted, and ready at once");
      const [pid] = driver.pids("ports");
      const changed = new Promise<string[]>((resolve) => driver.onChange((name) => resolve(driver.endpoints(name))));
      process.kill(pid!, "SIGKILL");
      const seen = await Promise.race([changed, new Promise<string>((r) => setTimeout(() => r("no change within 10 s"), 10_000))]);
      assert.deepEqual(seen, [], "the first change announced has the replica out of the endpoints");
    } finally {
      await close();
    }
  });

  it("names each replica's listener for the gateway's check, and keeps naming it after the replica is gone, until the port is made again", async () => {
    const { driver, untilReady, close } = await setup({ command: [process.execPath, RUNTIME] });
    try {
      await untilReady();
      const [ep] = driver.endpoints("ports");
      const port = Number(new URL(ep!).port);
      const [live] = loopbackListeners(await readFile("/proc/net/tcp", "utf8"), port);
      assert.ok(live, "the replica listens");
      assert.equal(live.uid, process.geteuid!(), "made by the driver, under its uid, whatever the replica runs as");
      assert.equal(driver.replicaListener("ports", ep!), listenerId(live));
      assert.equal(driver.replicaListener("ports", "http://127.0.0.1:1"), undefined, "a port the driver made nothing on");
      assert.equal(driver.replicaListener("another", ep!), null, "another deployment's URL there is a stale one: never sent to");
      const [pid] = driver.pids("ports");
      const gone = new Promise<void>((resolve) => driver.onChange(() => { if (driver.endpoints("ports").length === 0) resolve(); }));
      process.kill(pid!, "SIGKILL");
      await gone;
      // A gateway that has not heard yet still sends to `ep`: what it checks against is still the dead listener.
      assert.equal(driver.replicaListener("ports", ep!), listenerId(live), "kept after the replica is gone");
    } finally {
      await close();
    }
  });

  it("adoption takes no process of another uid, whatever its pid and marker (root only)", { skip: !isRoot && "only root gives deployments uids of their own" }, async () => {
    const first = await setup();
    await first.untilReady();
    const [pid] = first.driver.pids("ports");
    const marker = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").find((a) => a.startsWith("--flowplane-replica="))!;
    await first.driver.close();
    process.kill(pid!, "SIGKILL");
    // Another deployment's process with the replica's marker in its argv, listening on its port,
    // recorded as the replica (as a pid the machine handed out again would be).
    const state = (await readState(join(root, "ports")))!;
    const { port, probePort } = state.replicas[0]!;
    for (let i = 0; i < 100 && ((await taken(port)) || (await taken(probePort!))); i++) await new Promise((r) => setTimeout(r, 20));
    const serve = `for (const p of [${port}, ${probePort}]) require("node:http").createServer((q, s) => s.end("{}")).listen(p, "127.0.0.1")`;
    const impostor = spawn(process.execPath, ["-e", serve, "--", marker], { uid: OTHER_UID, gid: OTHER_UID, stdio: "ignore" });
    try {
      for (let i = 0; i < 100 && !((await taken(port)) && (await taken(probePort!))); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal((await fetch(`http://127.0.0.1:${probePort}/ready`)).status, 200, "the impostor answers the probes");
      state.replicas[0]!.pid = impostor.pid!;
      await writeFile(join(root, "ports", "state.json"), JSON.stringify(state));
      const { driver, close } = await setup({ readyProbeIntervalMs: 60_000 });
      try {
        assert.deepEqual(driver.endpoints("ports"), [], "not adopted");
        assert.ok(!driver.pids("ports").includes(impostor.pid!));
      } finally {
        await close();
      }
    } finally {
      impostor.kill("SIGKILL");
    }
  });

  /** A listener maker that fails as a machine out of descriptors does, `n` times (Infinity: always), then makes real ones. */
  const exhausted = (n: number) => {
    let left = n;
    return () => (left-- > 0 ? Promise.reject(Object.assign(new Error("listen EMFILE: too many open files"), { code: "EMFILE" })) : loopbackListener());
  };

  it("a machine short of descriptors at a start: the replica is tried again, the deployment not failed for it", async () => {
    // The first start's first listener fails; the restart's succeed.
    const { driver, logs, spec, untilReady, close } = await setup({ listener: exhausted(1), command: [process.execPath, RUNTIME] });
    try {
      await driver.apply(spec);
      const seen = await driver.observe("ports");
      assert.match(seen.replicas[0]?.lastError ?? "", /ran short of open files .*EMFILE.*tried again/);
      assert.equal(seen.failure, undefined, "a start refused by the machine's moment is not the deployment's failure");
      await untilReady();
      assert.equal((await driver.observe("ports")).failure, undefined);
      assert.ok(logs.lines.some((l) => l.msg === "replica could not be started" && (l as { reason?: string }).reason === "ResourcesExhausted"));
    } finally {
      await close();
    }
  });

  it("a machine short of descriptors at every start: the deployment fails with ResourcesExhausted after as many restarts as a crash loop", async () => {
    const { driver, spec, close } = await setup({ listener: exhausted(Infinity), crashLoopRestarts: 2 });
    try {
      await driver.apply(spec);
      assert.equal((await driver.observe("ports")).failure, undefined, "not at the first refusal");
      const deadline = Date.now() + 30_000;
      let seen = await driver.observe("ports");
      while (!seen.failure) {
        assert.ok(Date.now() < deadline, `never failed: ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 50));
        await driver.apply(spec);
        seen = await driver.observe("ports");
      }
      assert.equal(seen.failure.reason, "ResourcesExhausted");
      assert.match(seen.failure.message, /EMFILE.*restarted 2 time/);
    } finally {
      await close();
    }
  });
});
