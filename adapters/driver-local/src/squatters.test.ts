import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { freePort } from "@flowplane/testkit";
import { evictReplicaListeners, listeningInodes } from "./squatters.js";

/**
 * What a flow's code can do while the control plane is down: bind its port (or its lock's
 * abstract name) from a replica's uid. Real processes under real uids: root only (CI is root).
 */
const isRoot = process.getuid?.() === 0;
const UIDS = { base: 1_600_200_000, count: 1_000 };

/** A process under `uid` listening on `target` (a TCP port on loopback, or an abstract name); resolves once it listens. */
async function squat(uid: number, target: number | string): Promise<ChildProcess> {
  const where = typeof target === "number" ? `{ host: "127.0.0.1", port: ${target} }` : JSON.stringify(target);
  const child = spawn(process.execPath, ["-e", `require("node:net").createServer((s) => s.end("squatter\\n")).listen(${where}, () => console.log("bound"))`], { uid, gid: uid, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`the squatter exited (${code})`)));
  });
  return child;
}

const exitSignal = (c: ChildProcess) => new Promise<NodeJS.Signals | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.signalCode) : c.once("exit", (_code, signal) => r(signal))));

describe("replicas listening where the control plane must (root only)", { skip: !isRoot && "only root gives replicas uids of their own" }, () => {
  it("a replica's uid on a TCP port: every process of that uid ended, and the port free", async () => {
    const port = await freePort();
    const uid = UIDS.base + 11;
    const squatter = await squat(uid, port);
    // A second process of the same deployment, not listening: it goes too (it could bind again).
    const sibling = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { uid, gid: uid, stdio: "ignore" });
    try {
      assert.equal((await listeningInodes({ tcpPort: port })).size, 1);
      const e = await evictReplicaListeners({ tcpPort: port }, UIDS);
      assert.deepEqual(e, { evicted: [uid], others: [] });
      assert.equal(await exitSignal(squatter), "SIGKILL");
      assert.equal(await exitSignal(sibling), "SIGKILL");
      await new Promise<void>((resolve, reject) => {
        const s = createServer().once("error", reject).listen({ host: "127.0.0.1", port, exclusive: true }, () => s.close(() => resolve()));
      });
    } finally {
      squatter.kill("SIGKILL");
      sibling.kill("SIGKILL");
    }
  });

  it("a replica's listener no process holds (in flight in an SCM_RIGHTS message never received): its owner's uid ended, and the port free", async () => {
    const port = await freePort();
    const uid = UIDS.base + 13;
    // The listener is sent over an IPC channel to a process that never reads it (sleep), then
    // closed here: it listens on, in the channel's queue, with no descriptor in any /proc/<pid>/fd.
    const script = `const srv = require("node:net").createServer().listen({ host: "127.0.0.1", port: ${port} }, () => {
      const keeper = require("node:child_process").spawn("/bin/sleep", ["60"], { stdio: ["ignore", "ignore", "ignore", "ipc"] });
      keeper.send("take", srv, () => srv.close(() => console.log("bound")));
    });`;
    const squatter = spawn(process.execPath, ["-e", script], { uid, gid: uid, stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve, reject) => {
        squatter.stdout!.once("data", () => resolve());
        squatter.once("exit", (code) => reject(new Error(`the squatter exited (${code})`)));
      });
      assert.equal((await listeningInodes({ tcpPort: port })).size, 1, "the listener is there");
      assert.deepEqual(await evictReplicaListeners({ tcpPort: port }, UIDS), { evicted: [uid], others: [] });
      assert.equal(await exitSignal(squatter), "SIGKILL");
      await new Promise<void>((resolve, reject) => {
        const s = createServer().once("error", reject).listen({ host: "127.0.0.1", port, exclusive: true }, () => s.close(() => resolve()));
      });
    } finally {
      squatter.kill("SIGKILL");
    }
  });

  it("a holder outside the replicas' range is left alone and named", async () => {
    const port = await freePort();
    const uid = UIDS.base + UIDS.count + 5;
    const other = await squat(uid, port);
    try {
      const e = await evictReplicaListeners({ tcpPort: port }, UIDS);
      assert.deepEqual(e.evicted, []);
      assert.deepEqual(e.others.map((h) => h.uid), [uid]);
      assert.equal(other.exitCode, null, "not killed");
      assert.equal(other.signalCode, null, "not killed");
    } finally {
      other.kill("SIGKILL");
    }
  });

  it("an abstract socket name held by a replica's uid, as the data folder's lock is", async () => {
    const name = `\0flowplane-squatters-test-${process.pid}`;
    const uid = UIDS.base + 12;
    const squatter = await squat(uid, name);
    try {
      assert.deepEqual(await evictReplicaListeners({ abstractName: name }, UIDS), { evicted: [uid], others: [] });
      assert.equal(await exitSignal(squatter), "SIGKILL");
    } finally {
      squatter.kill("SIGKILL");
    }
  });

  it("nothing listening: nothing done", async () => {
    assert.deepEqual(await evictReplicaListeners({ tcpPort: await freePort() }, UIDS), { evicted: [], others: [] });
  });
});
