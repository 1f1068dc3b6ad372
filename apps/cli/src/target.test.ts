import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { writeContexts } from "./contexts.js";
import { createIo } from "./io.js";
import { resolveTarget } from "./target.js";

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "fp-target-"));
  const config = join(dir, "cfg", "config.json");
  await writeContexts(config, {
    current: "prod",
    contexts: { prod: { server: "https://fp.example.com", key: "fp_prodkey", project: "support" }, local: { server: "http://localhost:8080" } },
  });
  await mkdir(join(dir, ".flowplane"));
  await writeFile(join(dir, ".flowplane", "admin.key"), "fp_localadmin\n");
  const io = (env: Record<string, string>) => createIo({ stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() }, { FLOWPLANE_CONFIG: config, ...env }, dir);
  return { dir, config, io };
}

describe("contexts and the resolved target", () => {
  it("writes the contexts file 0600 in a 0700 folder", async () => {
    const { config } = await setup();
    assert.equal((await stat(config)).mode & 0o777, 0o600);
    assert.equal((await stat(join(config, ".."))).mode & 0o777, 0o700);
    assert.equal(JSON.parse(await readFile(config, "utf8")).contexts.prod.key, "fp_prodkey");
  });

  it("uses the current context's server, key and project", async () => {
    const { io } = await setup();
    const t = await resolveTarget(io({}), {});
    assert.deepEqual([t.server, t.key, t.project, t.contextName], ["https://fp.example.com", "fp_prodkey", "support", "prod"]);
  });

  it("lets the environment override, and never sends a context's key to another server", async () => {
    const { io } = await setup();
    const other = await resolveTarget(io({ FLOWPLANE_SERVER: "https://evil.example.com" }), {});
    assert.equal(other.key, undefined);
    assert.equal(other.project, undefined);
    const envKey = await resolveTarget(io({ FLOWPLANE_ACCESS_KEY: "fp_env", FLOWPLANE_PROJECT: "ops" }), { project: "flag" });
    assert.deepEqual([envKey.key, envKey.project], ["fp_env", "flag"]);
    assert.equal((await resolveTarget(io({ FLOWPLANE_PROJECT: "ops" }), {})).project, "ops");
  });

  it("finds the local admin key for a server on localhost without a key, from ./.flowplane or FLOWPLANE_DATA_DIR", async () => {
    const { dir, io } = await setup();
    const t = await resolveTarget(io({}), { context: "local" });
    assert.equal(t.key, "fp_localadmin");
    assert.equal(t.keySource, join(dir, ".flowplane", "admin.key"));
    const elsewhere = await resolveTarget(io({ FLOWPLANE_DATA_DIR: join(dir, "none") }), { context: "local" });
    assert.equal(elsewhere.key, undefined);
  });

  it("refuses an unknown --context as a usage error", async () => {
    const { io } = await setup();
    await assert.rejects(resolveTarget(io({}), { context: "nope" }), /no context named "nope"/);
  });
});
