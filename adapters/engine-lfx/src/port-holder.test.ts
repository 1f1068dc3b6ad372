import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { stillListensAt } from "@flowplane/core/replica";
import { holderOf, readTcp } from "./port-holder.js";

describe("port-holder: whose the listener on 127.0.0.1:<port> is", () => {
  it("holds only a listener among the process's own descriptors, on this machine's table, and says why not", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      const { port } = server.address() as { port: number };
      const mine = await holderOf(process.pid, port);
      assert.equal(mine.id?.replace(/\[\d+\]/, "[n]"), `socket:[n]/${process.geteuid!()}`, "its inode and its maker's uid");
      assert.deepEqual(await holderOf(other.pid!, port), { id: null, why: `the listener on 127.0.0.1:${port} is not held by lfx (pid ${other.pid})` }, "another process of the same uid");
      assert.deepEqual(await holderOf(process.pid, port, async () => ""), { id: null, why: `nothing listened on 127.0.0.1:${port}` });
      assert.equal(await stillListensAt(readTcp, port, mine.id!), true);
      await new Promise<void>((r) => server.close(() => r()));
      assert.equal(await stillListensAt(readTcp, port, mine.id!), false, "a closed listener");
      // Another listener on the same port is another socket.
      const again = createServer();
      await new Promise<void>((r) => again.listen(port, "127.0.0.1", r));
      try {
        assert.equal(await stillListensAt(readTcp, port, mine.id!), false, "a new listener on the same port");
        assert.notEqual((await holderOf(process.pid, port)).id, mine.id);
      } finally {
        again.close();
      }
    } finally {
      other.kill("SIGKILL");
      server.close();
    }
  });

  it("an unreadable table is an error that says so, not a listener never found", async () => {
    assert.equal(typeof (await readTcp()), "string");
    await assert.rejects(holderOf(process.pid, 1, () => Promise.reject(new Error("EACCES"))), /EACCES/);
  });
});
