import assert from "node:assert/strict";
import { chmodSync, chownSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { spawn } from "node:child_process";
import { emptyUid } from "@flowplane/driver-local";
import { waitFor } from "@flowplane/testkit";
import { frontAccount, frontEnv, makeFrontFolder } from "./front-account.js";

const RANGE = { base: 1_500_000_000, count: 65_536 };

describe("frontAccount: who a native front runs as", () => {
  it("is none when the control plane is not root: the front stays its user", () => {
    assert.equal(frontAccount({ uid: 1000, replicaUids: RANGE, port: 80 }), undefined);
    assert.equal(frontAccount({ uid: undefined, replicaUids: RANGE, port: 8080 }), undefined);
  });

  it("is the uid just past the deployments' range when root, its gid the same: no deployment's, no system account's", () => {
    assert.deepEqual(frontAccount({ uid: 0, replicaUids: RANGE, port: 8080, unprivilegedPortStart: 1024 }), { uid: 1_500_065_536, gid: 1_500_065_536 });
    assert.deepEqual(frontAccount({ uid: 0, replicaUids: { base: 60_000, count: 100 }, port: 8080, unprivilegedPortStart: 1024 }), { uid: 60_100, gid: 60_100 });
  });

  it("refuses, saying why, a port only root may bind, or a uid out of range", () => {
    assert.throws(() => frontAccount({ uid: 0, replicaUids: RANGE, port: 80, unprivilegedPortStart: 1024 }), /cannot bind port 80: this machine lets only root bind ports below 1024/);
    assert.deepEqual(frontAccount({ uid: 0, replicaUids: RANGE, port: 80, unprivilegedPortStart: 0 }), { uid: 1_500_065_536, gid: 1_500_065_536 });
    assert.throws(() => frontAccount({ uid: 0, replicaUids: { base: 2 ** 31 - 10, count: 65_536 }, port: 8080, unprivilegedPortStart: 1024 }), /out of range/);
  });

  it("gives a front no environment but PATH: never the control plane's secrets", () => {
    assert.deepEqual(Object.keys(frontEnv()), ["PATH"]);
  });
});

describe("makeFrontFolder: where the front runs as its account", { skip: process.getuid?.() !== 0 ? "only root can give a folder to another uid" : false }, () => {
  const account = { uid: 1_500_065_536, gid: 1_500_065_536 };

  it("is fresh and the account's (0700), its proxy's folder named by a link in the data folder; removed whole, as the account", async () => {
    const root = mkdtempSync(join(tmpdir(), "flowplane-front-test-"));
    chmodSync(root, 0o1777); // as the system's temporary folder is: the account removes its own folder from it
    try {
      const data = join(root, "data");
      mkdirSync(join(data, "nginx"), { recursive: true }); // a folder from a run as another user: replaced by the link
      const a = await makeFrontFolder(account, { dataDir: data, proxy: "nginx", parent: root, endAll: emptyUid });
      for (const p of [a.path, a.proxyDir]) {
        const st = statSync(p);
        assert.deepEqual({ mode: st.mode & 0o777, uid: st.uid, gid: st.gid }, { mode: 0o700, uid: account.uid, gid: account.gid }, p);
      }
      assert.equal(readlinkSync(join(data, "nginx")), a.proxyDir);
      // The workers' socket's folder: root's (the account cannot add a link for root's chown to follow), the account's group enters it.
      const sock = statSync(a.socketDir);
      assert.deepEqual({ mode: sock.mode & 0o777, uid: sock.uid, gid: sock.gid }, { mode: 0o710, uid: 0, gid: account.gid });
      const made = join(a.proxyDir, "nginx.conf");
      writeFileSync(made, "x", { mode: 0o600 });
      a.own(made);
      assert.equal(statSync(made).uid, account.uid);
      await a.remove();
      assert.throws(() => lstatSync(a.path), /ENOENT/);
      assert.throws(() => lstatSync(a.socketDir), /ENOENT/);
      assert.throws(() => lstatSync(join(data, "nginx")), /ENOENT/, "the link goes with it");
      assert.deepEqual(readdirSync(data), [], "both links");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("never removes anything of root's a link inside names (the account could have put it there), and removes what a killed control plane left", async () => {
    const root = mkdtempSync(join(tmpdir(), "flowplane-front-test-"));
    chmodSync(root, 0o1777); // as the system's temporary folder is: the account removes its own folder from it
    try {
      const data = join(root, "data");
      mkdirSync(data);
      const precious = join(root, "precious");
      mkdirSync(precious, { mode: 0o700 });
      writeFileSync(join(precious, "key"), "secret", { mode: 0o600 });
      const first = await makeFrontFolder(account, { dataDir: data, proxy: "haproxy", parent: root, endAll: emptyUid });
      // What a flaw in the front could make: a link to root's files, in a folder of its own.
      const evil = join(first.proxyDir, "temp");
      mkdirSync(evil);
      symlinkSync(precious, join(evil, "link"));
      chownSync(evil, account.uid, account.gid);
      lchownSync(join(evil, "link"), account.uid, account.gid);
      // The control plane is killed: nothing removed; the next start removes the leftover, as the account.
      const second = await makeFrontFolder(account, { dataDir: data, proxy: "haproxy", parent: root, endAll: emptyUid });
      assert.throws(() => lstatSync(first.path), /ENOENT/, "the leftover is removed");
      assert.equal(readlinkSync(join(data, "haproxy")), second.proxyDir);
      assert.deepEqual(readdirSync(precious), ["key"], "root's files untouched");
      assert.throws(() => lstatSync(first.socketDir), /ENOENT/, "its socket folder too");
      await second.remove();
      assert.deepEqual(readdirSync(root).sort(), ["data", "precious"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("ends every process of the account before root writes in its folder, and again at removal: a front taken over leaves nothing running", async () => {
    const root = mkdtempSync(join(tmpdir(), "flowplane-front-test-"));
    chmodSync(root, 0o1777);
    const lurk = () => spawn("sleep", ["600"], { uid: account.uid, gid: account.gid, detached: true, stdio: "ignore", cwd: "/" });
    const alive = (pid: number) => { try { process.kill(pid, 0); return readFileSync(`/proc/${pid}/stat`, "utf8").split(" ")[2] !== "Z"; } catch { return false; } };
    const before = lurk();
    const during = { pid: 0 };
    try {
      const data = join(root, "data");
      mkdirSync(data);
      await waitFor(() => alive(before.pid!), { timeoutMs: 5_000, message: "the lurker runs" });
      const f = await makeFrontFolder(account, { dataDir: data, proxy: "nginx", parent: root, endAll: emptyUid });
      await waitFor(() => !alive(before.pid!), { timeoutMs: 5_000, message: "a process of the account from before is ended" });
      const l = lurk();
      during.pid = l.pid!;
      await waitFor(() => alive(l.pid!), { timeoutMs: 5_000, message: "the second lurker runs" });
      await f.remove();
      await waitFor(() => !alive(l.pid!), { timeoutMs: 5_000, message: "a process the front left is ended at removal" });
    } finally {
      for (const pid of [before.pid, during.pid]) try { if (pid) process.kill(pid, "SIGKILL"); } catch { /* gone */ }
      rmSync(root, { recursive: true, force: true });
    }
  });
});
