import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, GATEWAY_SECRET_HEADER, type RuntimeSpec } from "@flowplane/core";
import { startBundleServer, type BundleServer } from "@flowplane/driver-suite";
import { freePort, loadFixture, repoRoot } from "@flowplane/testkit";
import { memoryLogger } from "@flowplane/logging";
import { LocalDriver, type LocalDriverOptions } from "./local-driver.js";
import { heldBy, readTcpTable } from "./port-owner.js";

const RUNTIME = join(repoRoot, "apps", "runtime", "dist", "main.js");
const GATEWAY = "ports-gateway-secret";
const isRoot = process.getuid?.() === 0;
/** The squatter's uid: no deployment's (the driver's range starts at UID_BASE). */
const SQUATTER_UID = 1_600_400_000;
const UID_BASE = 1_600_410_000;

/**
 * A process of another account listening first on the ports the driver hands a replica, as a
 * flow's code in another deployment could. It speaks HTTP/1.1 by hand over kept-alive
 * connections: every request gets a 200 (a 503 once it gets SIGUSR2), and one line per request
 * (port, path, whether the gateway's secret came with it, when). With `leave`, it stops
 * listening after its first answer and keeps the connections it has: the replica can then bind
 * the ports, while the driver's probe connection still leads to the squatter.
 */
async function squat(ports: number[], o: { leave?: boolean } = {}): Promise<{ child: ChildProcess; seen: { port: number; path: string; secret: boolean; at: number }[] }> {
  const code = `const net = require("node:net"); let n = 0; let status = "200 OK"; const servers = [];
    process.on("SIGUSR2", () => { status = "503 Service Unavailable"; });
    for (const port of ${JSON.stringify(ports)}) {
      const server = net.createServer((c) => {
        let buf = "";
        c.on("error", () => {});
        c.on("data", (d) => {
          buf += d.toString("latin1");
          for (let end = buf.indexOf("\\r\\n\\r\\n"); end >= 0; end = buf.indexOf("\\r\\n\\r\\n")) {
            const head = buf.slice(0, end);
            buf = buf.slice(end + 4);
            console.log(JSON.stringify({ port, path: head.split(" ")[1], secret: /^${GATEWAY_SECRET_HEADER}:/im.test(head), at: Date.now() }));
            c.write("HTTP/1.1 " + status + "\\r\\ncontent-length: 2\\r\\n\\r\\n{}");
            if (${o.leave === true}) for (const s of servers) s.close();
          }
        });
      });
      servers.push(server);
      server.listen(port, "127.0.0.1", () => { if (++n === ${ports.length}) console.log("bound"); });
    }`;
  const child = spawn(process.execPath, ["-e", code], { uid: SQUATTER_UID, gid: SQUATTER_UID, stdio: ["ignore", "pipe", "inherit"] });
  const seen: { port: number; path: string; secret: boolean; at: number }[] = [];
  let buf = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (l === "bound") resolve();
        else seen.push(JSON.parse(l) as (typeof seen)[number]);
      }
    });
    child.once("exit", (code) => reject(new Error(`the squatter exited (${code})`)));
  });
  return { child, seen };
}

/** Two distinct free ports. */
async function twoPorts(): Promise<[number, number]> {
  const port = await freePort();
  let probePort = await freePort();
  while (probePort === port) probePort = await freePort();
  return [port, probePort];
}

describe("local driver: a replica's ports taken by another account first (root only)", { skip: !isRoot && "only root gives deployments uids of their own" }, () => {
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
   * A driver whose first replica is handed `handed` as its ports (its restarts get free ones),
   * and every set of addresses the gateway would have been given, as each change is announced.
   * The runtime starts a second late, so the driver's probes reach a squatter before the
   * runtime finds its ports taken, however fast the machine.
   */
  async function setup(handed: number[], over: Partial<LocalDriverOptions> = {}) {
    const logs = memoryLogger();
    const driver = await LocalDriver.create({
      root, command: ["/bin/sh", "-c", 'sleep 1; exec "$0" "$@"', process.execPath, RUNTIME], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 50, backoff: { baseMs: 200, maxMs: 1000 }, shutdownGraceMs: 3000, log: logs.log,
      isolation: { uidBase: UID_BASE, uidCount: 100 },
      freePort: async () => handed.shift() ?? freePort(),
      ...over,
    });
    assert.notEqual(driver.isolation.mode, "none");
    const published: string[][] = [];
    driver.onChange((name) => published.push(driver.endpoints(name)));
    const spec: RuntimeSpec = {
      deploymentId: "dep-squatted", projectId: "p", resourceName: "squatted", generation: 1,
      bundle: { name: "suite", version: bundles.versionTag, digest: bundles.digest },
      bundleUrl: bundles.url("dep-squatted"), identityToken: bundles.token("dep-squatted"), gatewaySecret: GATEWAY,
      engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
      resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {},
    };
    /** Applies until a replica is ready; the lastError reasons seen on the way. */
    const untilReady = async () => {
      const deadline = Date.now() + 60_000;
      const errors = new Set<string>();
      for (let seen = await driver.observe("squatted"); !seen.replicas.some((r) => r.state === "ready"); seen = await driver.observe("squatted")) {
        assert.ok(Date.now() < deadline, `not ready: ${JSON.stringify(seen)}`);
        assert.equal(seen.failure, undefined, "a taken port is no failure of the deployment: the restart gets new ones");
        for (const r of seen.replicas) if (r.lastError) errors.add(r.lastError.split(":")[0]!);
        await driver.apply(spec);
        published.push(driver.endpoints("squatted"));
        await new Promise((r) => setTimeout(r, 50));
      }
      return errors;
    };
    const close = async () => {
      await driver.delete("squatted").catch(() => undefined);
      await driver.close();
    };
    return { driver, logs, published, untilReady, close };
  }

  it("the squatter's answers never make the replica ready: no call and no secret reach it, and the replica comes up on ports of its own", async () => {
    const [port, probePort] = await twoPorts();
    const squatter = await squat([port, probePort]);
    const { driver, logs, published, untilReady, close } = await setup([port, probePort]);
    try {
      const errors = await untilReady();
      // The squatter did answer the replica's probes with a 200: only whose port it is held the replica back.
      assert.ok(squatter.seen.some((s) => s.port === probePort && s.path === "/ready"), `the squatter was probed: ${JSON.stringify(squatter.seen)}`);
      assert.deepEqual(squatter.seen.filter((s) => s.secret || s.path !== "/ready"), [], "nothing but probes reached it");
      const taken = published.flat().filter((e) => e.endsWith(`:${port}`));
      assert.deepEqual(taken, [], "the squatter's port was never published");
      const [ep] = driver.endpoints("squatted");
      assert.ok(ep && !ep.endsWith(`:${port}`));
      const own = Number(new URL(ep).port);
      const [pid] = driver.pids("squatted");
      const uid = Number(/^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1]);
      assert.ok(uid >= UID_BASE && uid < UID_BASE + 100, `the replica runs as its deployment's uid (${uid})`);
      assert.equal(await heldBy(pid!, [own], await readTcpTable()), true, "the replica's port is its own process's");
      assert.match(logs.text(), /not from its own process/);
      assert.deepEqual([...errors], ["PortTaken"], "the first replica's exit, said");
      const flows = await fetch(`${ep}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: GATEWAY } });
      assert.equal(flows.status, 200, "the replica itself answers there");
    } finally {
      squatter.child.kill("SIGKILL");
      await close();
    }
  });

  it("a probe connection made to the squatter before it left the port is not the one that promotes the replica, nor the one that keeps it", async () => {
    const [port, probePort] = await twoPorts();
    // It answers the first probe, then stops listening and keeps that connection: the runtime binds both ports.
    const squatter = await squat([port, probePort], { leave: true });
    const { driver, logs, untilReady, close } = await setup([port, probePort], { readyProbeIntervalMs: 200 });
    try {
      await untilReady();
      const promoted = Date.now();
      assert.deepEqual(driver.endpoints("squatted"), [`http://127.0.0.1:${port}`], "the replica kept the ports once the squatter left them");
      const [pid] = driver.pids("squatted");
      assert.equal(await heldBy(pid!, [port, probePort], await readTcpTable()), true);
      // From now on the squatter answers 503 on whatever it still holds: were it the probes' connection, three would unpublish the replica.
      squatter.child.kill("SIGUSR2");
      await new Promise((r) => setTimeout(r, 2_000));
      assert.deepEqual(squatter.seen.filter((x) => x.at >= promoted), [], "no probe went to the squatter after the promotion");
      assert.ok(squatter.seen.length >= 1, "the squatter did answer a probe before it left");
      assert.equal((await driver.observe("squatted")).replicas[0]?.state, "ready");
      assert.doesNotMatch(logs.text(), /replica not ready/);
    } finally {
      squatter.child.kill("SIGKILL");
      await close();
    }
  });
  it("an adopted replica that dies leaves the endpoints at the next tick, not at its next probe: its port is anyone's from then on", async () => {
    const first = await setup([]);
    await first.untilReady();
    const [ep] = first.driver.endpoints("squatted");
    await first.driver.close(); // its replicas live on
    // Ready probes a minute apart: only the tick's look at the process can see it gone.
    const { driver, close } = await setup([], { readyProbeIntervalMs: 60_000 });
    try {
      assert.deepEqual(driver.endpoints("squatted"), [ep], "adopted, and ready at once");
      const [pid] = driver.pids("squatted");
      const changed = new Promise<string[]>((resolve) => driver.onChange((name) => resolve(driver.endpoints(name))));
      process.kill(pid!, "SIGKILL");
      const after = await Promise.race([changed, new Promise<string>((r) => setTimeout(() => r("no change within 10 s"), 10_000))]);
      assert.deepEqual(after, [], "the first change announced has the replica out of the endpoints");
    } finally {
      await close();
    }
  });
});
