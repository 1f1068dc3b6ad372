import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat, unlink } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    }).on("error", reject);
  });
}

/** Starts the real `flowplane-server` process and waits for its banner. */
async function start(dataDir: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number; out: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, FLOWPLANE_DATA_DIR: dataDir, FLOWPLANE_PORT: String(port), FLOWPLANE_PRIVATE_PORT: String(await freePort()), FLOWPLANE_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 30_000;
  while (!out.includes("admin key:")) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, out: () => out };
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  return exited;
}

describe("flowplane-server process", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("creates the org owner on first start, writes admin.key 0600, keeps it across restarts, rotates it when deleted", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flowplane-main-"));
    dirs.push(dir);
    const first = await start(dir);
    const keyFile = join(dir, "admin.key");
    assert.match(first.out(), new RegExp(`admin key: ${keyFile.replace(/[/.]/g, "\\$&")} \\(new\\)`));
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "secret.key"))).mode & 0o777, 0o600);
    const key = (await readFile(keyFile, "utf8")).trim();
    assert.doesNotMatch(first.out(), new RegExp(key.slice(3)), "the key is never printed");
    const me = await fetch(`http://127.0.0.1:${first.port}/api/v1/me`, { headers: { "x-access-key": key } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { orgOwner: boolean }).orgOwner, true);
    const p = await fetch(`http://127.0.0.1:${first.port}/api/v1/projects`, { method: "POST", headers: { "x-access-key": key, "content-type": "application/json" }, body: '{"name":"kept"}' });
    assert.equal(p.status, 201);
    assert.equal(await stop(first.child), 0, "SIGTERM shuts down cleanly");

    const second = await start(dir);
    assert.doesNotMatch(second.out(), /\(new\)/);
    assert.equal((await readFile(keyFile, "utf8")).trim(), key);
    const projects = await fetch(`http://127.0.0.1:${second.port}/api/v1/projects`, { headers: { "x-access-key": key } });
    assert.equal(((await projects.json()) as { items: { name: string }[] }).items[0]?.name, "kept", "PGlite persisted in the data folder");
    await stop(second.child);

    await unlink(keyFile);
    const third = await start(dir);
    const rotated = (await readFile(keyFile, "utf8")).trim();
    assert.notEqual(rotated, key);
    assert.equal((await fetch(`http://127.0.0.1:${third.port}/api/v1/me`, { headers: { "x-access-key": key } })).status, 401, "the old admin key is revoked");
    assert.equal((await fetch(`http://127.0.0.1:${third.port}/api/v1/me`, { headers: { "x-access-key": rotated } })).status, 200);
    await stop(third.child);
  });

  it("refuses invalid configuration with a clear message and no stack trace", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flowplane-main-"));
    dirs.push(dir);
    const child = spawn(process.execPath, [MAIN], { env: { ...process.env, FLOWPLANE_DATA_DIR: dir, FLOWPLANE_PORT: "99999" }, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    assert.equal(code, 1);
    assert.match(err, /FLOWPLANE_PORT: FLOWPLANE_PORT must be 1\.\.65535/);
    assert.doesNotMatch(err, /\n\s+at /);
  });
});
