import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, type RuntimeSpec } from "@flowplane/core";
import { waitFor } from "@flowplane/testkit";
import { LocalDriver } from "./local-driver.js";

/**
 * A replica that writes more than its file-size limit to its log: the driver rotates the log, so
 * its writes never fail and its last lines stay readable (log-rotation.ts).
 */
const CHATTY = `const fs = require("node:fs");
let failed = 0, i = 0;
const tick = () => {
  let s = "";
  for (let k = 0; k < 400; k++) s += "line " + (i++) + " " + "x".repeat(90) + "\\n";
  try { fs.writeSync(1, s); } catch (e) { if (e.code !== "EFBIG") throw e; failed++; }
  if (i < 40000) setTimeout(tick, 10); else console.log("done failed=" + failed);
};
tick();
setInterval(() => {}, 1000);`;

describe("local driver: a replica's log past its file-size limit", { skip: !existsSync("/usr/bin/prlimit") && "util-linux's prlimit is missing", timeout: 120_000 }, () => {
  let root: string;
  const drivers: LocalDriver[] = [];
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-logs-"));
  });
  after(async () => {
    for (const d of drivers) {
      for (const name of await d.list()) await d.delete(name).catch(() => undefined);
      await d.close();
    }
    await rm(root, { recursive: true, force: true });
  });
  const spec = (resourceName: string): RuntimeSpec => ({
    deploymentId: `dep-${resourceName}`, projectId: "p", resourceName, generation: 1,
    bundle: { name: "b", version: "1", digest: "d" }, bundleUrl: "http://127.0.0.1:9/", identityToken: "t", gatewaySecret: "gw",
    engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {},
  });
  /** A driver whose replicas may write files of 1 MiB at most; the chatty replica writes about 4 MiB. */
  const driverWith = async (name: string, atBytes: number) => {
    const d = await LocalDriver.create({
      root: join(root, name), command: [process.execPath, "-e", CHATTY, "--"], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 100, memoryCheckIntervalMs: 100, backoff: { baseMs: 60_000, maxMs: 60_000 }, shutdownGraceMs: 2_000,
      isolation: { maxFileBytes: 1024 * 1024 }, logRotation: { atBytes, keepBytes: 64 * 1024 },
    });
    drivers.push(d);
    return d;
  };
  const lastLines = async (d: LocalDriver, name: string) => (await d.readLogs(name, { tailLines: 3 }))[0]?.lines ?? [];

  it("a replica whose fatal line was rotated into the kept part just before it exited still says why", async () => {
    // 300 KiB of lines, the runtime's fatal line, then a wait long enough for a rotation (256 KiB,
    // checked every 100 ms) to move all of it into the kept part, then the exit.
    const script = `const fs = require("node:fs");
      for (let i = 0; i < 3000; i++) fs.writeSync(1, "line " + i + " " + "x".repeat(90) + "\\n");
      fs.writeSync(1, JSON.stringify({ level: "fatal", msg: "bundle download failed: 503" }) + "\\n");
      setTimeout(() => process.exit(1), 1500);`;
    const d = await LocalDriver.create({
      root: join(root, "fatal"), command: [process.execPath, "-e", script, "--"], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 100, memoryCheckIntervalMs: 100, backoff: { baseMs: 60_000, maxMs: 60_000 }, shutdownGraceMs: 2_000,
      logRotation: { atBytes: 256 * 1024, keepBytes: 64 * 1024 },
    });
    drivers.push(d);
    await d.apply(spec("fatal-a"));
    await waitFor(async () => (await d.observe("fatal-a")).replicas[0]?.lastError !== undefined, { timeoutMs: 30_000, intervalMs: 50, message: "the replica's exit" });
    const dir = join(root, "fatal", "fatal-a");
    assert.ok((await readdir(dir)).some((f) => f.endsWith(".log.1")), "the fatal line was rotated into the kept part");
    assert.equal((await d.observe("fatal-a")).replicas[0]?.lastError, "BundleDownloadFailed: bundle download failed: 503");
  });

  it("is rotated: every write lands, the file stays far below the limit, and the last lines are the newest", async () => {
    const d = await driverWith("rotated", 256 * 1024);
    await d.apply(spec("chatty-a"));
    let largest = 0;
    const dir = join(root, "rotated", "chatty-a");
    await waitFor(async () => {
      for (const f of await readdir(dir).catch(() => [] as string[])) if (/^replica-[A-Za-z0-9]+\.log$/.test(f)) largest = Math.max(largest, (await stat(join(dir, f))).size);
      return (await lastLines(d, "chatty-a")).at(-1)?.startsWith("done") ?? false;
    }, { timeoutMs: 60_000, intervalMs: 50, message: "the replica's last line" });
    const lines = await lastLines(d, "chatty-a");
    assert.equal(lines.at(-1), "done failed=0", "no write was refused");
    // The newest data lines, in order. A write that lands in the instant a rotation truncates the
    // file is lost (docs/runs-and-logs.md), so the very last chunk (400 lines) may be missing.
    const [a, b] = lines.slice(0, 2).map((l) => Number(/^line (\d+) x+$/.exec(l)?.[1] ?? NaN));
    assert.equal(b, a! + 1, `consecutive lines: ${JSON.stringify(lines.map((l) => l.slice(0, 12)))}`);
    assert.ok(b! >= 39_599, `among the replica's last lines: line ${b}`);
    assert.ok(largest < 1024 * 1024, `the live file stayed under the limit (largest seen ${largest} bytes)`);
    assert.ok((await readdir(dir)).some((f) => f.endsWith(".log.1")), "a rotation's kept part is there");
  });

  it("without rotation (the threshold above the limit) the same replica's writes are refused past the limit: what the rotation prevents", async () => {
    const d = await driverWith("unrotated", 64 * 1024 * 1024);
    await d.apply(spec("chatty-b"));
    const dir = join(root, "unrotated", "chatty-b");
    const logSize = async () => {
      const f = (await readdir(dir).catch(() => [] as string[])).find((x) => /^replica-[A-Za-z0-9]+\.log$/.test(x));
      return f ? (await stat(join(dir, f))).size : 0;
    };
    await waitFor(async () => (await logSize()) >= 1024 * 1024, { timeoutMs: 60_000, intervalMs: 50, message: "the log reaches the limit" });
    // The replica writes its whole 4 MiB within about 2 s; it has had time to try the rest.
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(await logSize(), 1024 * 1024, "the kernel held the file to the limit");
    const lines = await lastLines(d, "chatty-b");
    assert.ok(lines.length > 0 && !lines.some((l) => l.startsWith("done")), `its last lines were never written: ${JSON.stringify(lines.map((l) => l.slice(0, 20)))}`);
  });
});
