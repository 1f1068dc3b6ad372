import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { DataFolderLockedError, lockDataFolder, lockName } from "./data-lock.js";
import { freePort, startServer } from "./test-process.js";

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

describe("data folder lock", () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), "flowplane-lock-"));
    dirs.push(d);
    return d;
  };
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** Runs a second server on `dir` to its end: its exit code and what it wrote. */
  const secondStart = async (dir: string) => {
    const child = spawn(process.execPath, [MAIN], {
      cwd: dir,
      env: { ...process.env, FLOWPLANE_DATA_DIR: dir, FLOWPLANE_PORT: String(await freePort()), FLOWPLANE_PRIVATE_PORT: String(await freePort()), FLOWPLANE_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    return { code, out, err };
  };

  it("refuses a second process with the holder's pid; the first keeps working; a kill -9 leaves no stale lock", async () => {
    const dir = await tempDir();
    const first = await startServer(dir);
    try {
      const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
      const api = (s: { port: number }, path: string, init: RequestInit = {}) =>
        fetch(`http://127.0.0.1:${s.port}/api/v1${path}`, { ...init, headers: { "x-access-key": key, "content-type": "application/json" } });
      assert.equal((await api(first, "/projects", { method: "POST", body: '{"name":"before"}' })).status, 201);

      const second = await secondStart(dir);
      assert.equal(second.code, 1);
      assert.equal(second.out, "", "the refused process prints no banner");
      assert.equal(second.err.trim().split("\n").length, 1, second.err);
      assert.match(second.err, new RegExp(`in use by another flowplane process \\(pid ${first.child.pid}\\)`));
      assert.doesNotMatch(second.err, /\n\s+at /);

      assert.equal((await api(first, "/projects", { method: "POST", body: '{"name":"after"}' })).status, 201, "the first keeps working");
      await first.kill(); // SIGKILL: no chance to release anything

      const third = await startServer(dir);
      try {
        const names = ((await (await api(third, "/projects")).json()) as { items: { name: string }[] }).items.map((p) => p.name).sort();
        assert.deepEqual(names, ["after", "before"], "the database opens after the crash, data intact");
      } finally {
        assert.equal(await third.stop(), 0);
      }
    } finally {
      await first.kill();
    }
  });

  it("abstract socket: exclusive within one machine, released with the holder", async () => {
    const dir = await tempDir();
    const lock = await lockDataFolder(dir, "abstract-socket");
    await assert.rejects(lockDataFolder(dir, "abstract-socket"), (e: unknown) => e instanceof DataFolderLockedError && e.holderPid === process.pid);
    const other = await tempDir();
    await (await lockDataFolder(other, "abstract-socket")).release(); // another folder is another lock
    await lock.release();
    await (await lockDataFolder(dir, "abstract-socket")).release();
  });

  it("abstract socket: a replica's process squatting the name (replicas share the network namespace and outlive the control plane) is killed, not obeyed", { skip: process.getuid?.() !== 0 && "only root runs replicas under uids of their own" }, async () => {
    const dir = await tempDir();
    const uids = { base: 1_600_100_000, count: 65_536 };
    // What a flow's code did: bind the name while the control plane was down, and answer "pid 1".
    const squatter = spawn(process.execPath, ["-e", `require("node:net").createServer((s) => s.end("1\\n")).listen(${JSON.stringify(lockName(dir))}, () => console.log("bound"))`], { uid: uids.base + 7, gid: uids.base + 7, stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve, reject) => {
        squatter.stdout.once("data", () => resolve());
        squatter.once("exit", (code) => reject(new Error(`the squatter exited (${code})`)));
      });
      // Without the replicas' uids the holder is obeyed, as before.
      await assert.rejects(lockDataFolder(dir, "abstract-socket"), (e: unknown) => e instanceof DataFolderLockedError && e.holderPid === 1);
      const exited = new Promise((r) => squatter.once("exit", (_code, signal) => r(signal)));
      const lock = await lockDataFolder(dir, "abstract-socket", uids);
      assert.equal(await exited, "SIGKILL");
      await assert.rejects(lockDataFolder(dir, "abstract-socket", uids), (e: unknown) => e instanceof DataFolderLockedError && e.holderPid === process.pid, "a control plane (not a replica's uid) is obeyed");
      await lock.release();
    } finally {
      squatter.kill("SIGKILL");
    }
  });

  it("pid file (other systems): refuses a live holder, clears a dead one's file", async () => {
    const dir = await tempDir();
    const lock = await lockDataFolder(dir, "pid-file");
    await assert.rejects(lockDataFolder(dir, "pid-file"), (e: unknown) => e instanceof DataFolderLockedError && e.holderPid === process.pid);
    await lock.release();
    const dead = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => dead.once("exit", r));
    await writeFile(join(dir, "flowplane.lock"), `${dead.pid}\n`);
    const taken = await lockDataFolder(dir, "pid-file");
    assert.equal((await readFile(join(dir, "flowplane.lock"), "utf8")).trim(), String(process.pid));
    await taken.release();
  });
});
