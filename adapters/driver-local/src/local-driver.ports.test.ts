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
import { LocalDriver } from "./local-driver.js";
import { heldBy } from "./port-owner.js";

const RUNTIME = join(repoRoot, "apps", "runtime", "dist", "main.js");
const GATEWAY = "ports-gateway-secret";
const isRoot = process.getuid?.() === 0;
/** The squatter's uid: no deployment's (the driver's range starts at UID_BASE). */
const SQUATTER_UID = 1_600_400_000;
const UID_BASE = 1_600_410_000;

/**
 * A process of another account listening first on the ports the driver hands a replica, as a
 * flow's code in another deployment could: it answers every request 200 and prints one line per
 * request it gets (port, path, whether the gateway's secret came with it).
 */
async function squat(ports: number[]): Promise<{ child: ChildProcess; seen: { port: number; path: string; secret: boolean }[] }> {
  const code = `const http = require("node:http"); let n = 0;
    for (const port of ${JSON.stringify(ports)}) http.createServer((q, s) => {
      console.log(JSON.stringify({ port, path: q.url, secret: ${JSON.stringify(GATEWAY_SECRET_HEADER)} in q.headers }));
      s.end("{}");
    }).listen(port, "127.0.0.1", () => { if (++n === ${ports.length}) console.log("bound"); });`;
  const child = spawn(process.execPath, ["-e", code], { uid: SQUATTER_UID, gid: SQUATTER_UID, stdio: ["ignore", "pipe", "inherit"] });
  const seen: { port: number; path: string; secret: boolean }[] = [];
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

  it("the squatter's answers never make the replica ready: no call and no secret reach it, and the replica comes up on ports of its own", async () => {
    const [port, probePort] = [await freePort(), await freePort()];
    const squatter = await squat([port, probePort]);
    const logs = memoryLogger();
    // The first replica is handed the squatter's ports; its restart gets free ones.
    const handed = [port, probePort];
    const driver = await LocalDriver.create({
      root, command: [process.execPath, RUNTIME], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 50, backoff: { baseMs: 200, maxMs: 1000 }, shutdownGraceMs: 3000, log: logs.log,
      isolation: { uidBase: UID_BASE, uidCount: 100 },
      freePort: async () => handed.shift() ?? freePort(),
    });
    // Every set of addresses the gateway would have been given, as each change is announced.
    const published: string[][] = [];
    driver.onChange((name) => published.push(driver.endpoints(name)));
    const spec: RuntimeSpec = {
      deploymentId: "dep-squatted", projectId: "p", resourceName: "squatted", generation: 1,
      bundle: { name: "suite", version: bundles.versionTag, digest: bundles.digest },
      bundleUrl: bundles.url("dep-squatted"), identityToken: bundles.token("dep-squatted"), gatewaySecret: GATEWAY,
      engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
      resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {},
    };
    try {
      assert.notEqual(driver.isolation.mode, "none");
      const deadline = Date.now() + 60_000;
      while (!(await driver.observe("squatted")).replicas.some((r) => r.state === "ready")) {
        assert.ok(Date.now() < deadline, `not ready: ${JSON.stringify(await driver.observe("squatted"))}`);
        await driver.apply(spec);
        published.push(driver.endpoints("squatted"));
        await new Promise((r) => setTimeout(r, 50));
      }
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
      assert.equal(await heldBy(uid, [own]), true, "the replica's port is its deployment's uid's");
      assert.match(logs.text(), /not from its deployment's account/);
      const flows = await fetch(`${ep}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: GATEWAY } });
      assert.equal(flows.status, 200, "the replica itself answers there");
    } finally {
      squatter.child.kill("SIGKILL");
      await driver.delete("squatted").catch(() => undefined);
      await driver.close();
    }
  });
});
