import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startServer } from "./test-process.js";

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

describe("flowplane-server process", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("creates the org owner on first start, writes admin.key 0600, keeps it across restarts, rotates it when deleted", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flowplane-main-"));
    dirs.push(dir);
    const first = await startServer(dir);
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
    assert.equal(await first.stop(), 0, "SIGTERM shuts down cleanly");

    const second = await startServer(dir);
    assert.doesNotMatch(second.out(), /\(new\)/);
    assert.equal((await readFile(keyFile, "utf8")).trim(), key);
    const projects = await fetch(`http://127.0.0.1:${second.port}/api/v1/projects`, { headers: { "x-access-key": key } });
    assert.equal(((await projects.json()) as { items: { name: string }[] }).items[0]?.name, "kept", "PGlite persisted in the data folder");
    await second.stop();

    await unlink(keyFile);
    const third = await startServer(dir);
    const rotated = (await readFile(keyFile, "utf8")).trim();
    assert.notEqual(rotated, key);
    assert.equal((await fetch(`http://127.0.0.1:${third.port}/api/v1/me`, { headers: { "x-access-key": key } })).status, 401, "the old admin key is revoked");
    assert.equal((await fetch(`http://127.0.0.1:${third.port}/api/v1/me`, { headers: { "x-access-key": rotated } })).status, 200);
    await third.stop();
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
