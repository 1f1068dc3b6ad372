import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import { freePort, waitFor } from "@flowplane/testkit";
import { NginxChild } from "./child.js";
import { renderNginxConfig } from "./config.js";
import { call, routeEntry, sha256hex, SKIP_WITHOUT_NGINX, startReplica, startTestNginx } from "./test-nginx.js";

/** The processes whose process group is `group` (nginx's master and its workers). */
function groupMembers(group: number): { pid: number; ppid: number; cmd: string }[] {
  const out: { pid: number; ppid: number; cmd: string }[] = [];
  for (const p of readdirSync("/proc").filter((x) => /^[0-9]+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === group && state !== "Z") out.push({ pid: Number(p), ppid: Number(ppid), cmd: readFileSync(`/proc/${p}/cmdline`, "utf8") });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe("nginx as flowplane's child", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  it("checks the config first (nginx -t) and says what nginx refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flowplane-nginx-bad-"));
    try {
      const child = new NginxChild({ bin: "nginx", dir, config: "events {}\nhttp { no_such_directive on; }\n", log: memoryLogger().log });
      await assert.rejects(child.start(), /nginx refused flowplane's config: .*unknown directive "no_such_directive"/);
      assert.equal(child.pid(), undefined, "never started");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("runs the workers it is told, starts again after a crash (its workers ended with it) and says so", async () => {
    const replica = await startReplica();
    let restarts = 0;
    const nginx = await startTestNginx({ workers: 2, onRestart: () => { restarts++; } });
    const master = nginx.child.pid()!;
    try {
      await waitFor(() => groupMembers(master).filter((p) => p.ppid === master && p.cmd.startsWith("nginx: worker")).length === 2, { timeoutMs: 5_000, message: "two nginx workers" });
      const key = "fp_child";
      const program = () => nginx.program.send({ routes: { set: [routeEntry("r1", [replica.address])] }, keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u", keyId: "k" }] } });
      const served = async () => (await call(nginx.port, "/projects/p1/apps/a1/routes/r1/x", { headers: { "x-access-key": key } })).headers["x-served-by"] ?? "replica";
      await program();
      assert.equal(await served(), "replica");
      // A master killed with SIGKILL leaves its workers holding the port: the restart must end them.
      process.kill(master, "SIGKILL");
      await waitFor(() => restarts === 1, { timeoutMs: 10_000, message: "nginx started again" });
      assert.notEqual(nginx.child.pid(), master);
      assert.deepEqual(groupMembers(master), [], "the old master's workers are gone");
      assert.equal(await served(), "workers", "an empty fast path after the restart");
      await program();
      assert.equal(await served(), "replica", "programmed again");
    } finally {
      await nginx.stop();
      // Should a regression leave the old workers, they would keep this file's stderr pipe (and the test) open.
      try { process.kill(-master, "SIGKILL"); } catch { /* gone, as it should be */ }
      await replica.close();
    }
  });

  it("a folder put where its programming socket goes (a front taken over can) fails the restart, said, without ending this process", async () => {
    let restarts = 0;
    const nginx = await startTestNginx({ onRestart: () => { restarts++; } });
    const master = nginx.child.pid()!;
    try {
      // Before: rmSync threw from the restart's timer, an uncaught exception that ended the control plane (and this test file).
      const sock = join(nginx.dir, "program.sock");
      await rm(sock, { force: true });
      mkdirSync(sock);
      writeFileSync(join(sock, "x"), "");
      process.kill(master, "SIGKILL");
      await new Promise((r) => setTimeout(r, 1_000)); // ten times the tests' restart delay
      assert.equal(restarts, 0, "not started over a name it cannot clear");
      assert.equal(nginx.child.pid(), master, "no new master");
    } finally {
      await nginx.stop();
      try { process.kill(-master, "SIGKILL"); } catch { /* gone, as it should be */ }
    }
  });

  it("stops gracefully: a call in flight gets its answer, then nothing of nginx is left", async () => {
    let release: (() => void) | undefined;
    const replica = await startReplica((_req, res) => { release = () => res.end("late"); });
    const nginx = await startTestNginx();
    const master = nginx.child.pid()!;
    try {
      const key = "fp_stop";
      await nginx.program.send({ routes: { set: [routeEntry("r1", [replica.address])] }, keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u", keyId: "k" }] } });
      const inFlight = call(nginx.port, "/projects/p1/apps/a1/routes/r1/x", { headers: { "x-access-key": key } });
      await waitFor(() => release !== undefined, { timeoutMs: 5_000, message: "the call at the replica" });
      const stopped = nginx.stop();
      await new Promise((r) => setTimeout(r, 200));
      release!();
      assert.equal((await inFlight).body, "late");
      await stopped;
      assert.deepEqual(groupMembers(master), []);
    } finally {
      await nginx.stop();
      await replica.close();
    }
  });

  it("ends an nginx left behind in its folder (its master killed, its workers still on the port) before it starts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flowplane-nginx-left-"));
    const nginxDir = join(dir, "nginx");
    mkdirSync(nginxDir, { mode: 0o700 });
    const config = renderNginxConfig({ dir: nginxDir, bind: { host: "127.0.0.1", port: await freePort() }, node: { path: join(dir, "node.sock") }, workers: 1, maxConnections: 64, fastBodyMax: 16384, ...(process.getuid?.() === 0 ? { user: { name: "root", group: "root" } } : {}) });
    // The first start writes the config; that nginx is then left behind as a crashed control plane would leave it.
    const first = new NginxChild({ bin: "nginx", dir: nginxDir, config, log: memoryLogger().log });
    await first.start();
    await first.stop();
    const left = spawn("nginx", ["-p", nginxDir, "-c", "nginx.conf", "-g", "daemon off;"], { stdio: "ignore", detached: true });
    const group = left.pid!;
    try {
      await waitFor(() => existsSync(join(nginxDir, "nginx.pid")) && groupMembers(group).some((p) => p.cmd.startsWith("nginx: worker")), { timeoutMs: 5_000, message: "the left-behind nginx" });
      process.kill(group, "SIGKILL");
      await waitFor(() => !groupMembers(group).some((p) => p.pid === group), { timeoutMs: 5_000, message: "its master gone" });
      assert.ok(groupMembers(group).length > 0, "its worker still runs");
      const again = new NginxChild({ bin: "nginx", dir: nginxDir, config, log: memoryLogger().log });
      await again.start();
      assert.deepEqual(groupMembers(group), [], "the leftover ended");
      await again.stop();
    } finally {
      try { process.kill(-group, "SIGKILL"); } catch { /* gone */ }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
