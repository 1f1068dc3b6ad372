import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { endianness } from "node:os";
import { describe, it } from "node:test";
import { holderOf, loopbackListeners, readTcp, stillListening } from "./port-holder.js";

const LOOPBACK = endianness() === "LE" ? "0100007F" : "7F000001";
const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");
/** A /proc/net/tcp line. */
const line = (sl: number, local: string, remote: string, state: string, inode: number) =>
  `  ${sl}: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 100 0 0 10 0`;

describe("port-holder: the listener on 127.0.0.1:<port>, and whose it is", () => {
  const table = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    line(0, `${LOOPBACK}:${hex(41000)}`, "00000000:0000", "0A", 501),
    line(1, `${LOOPBACK}:${hex(41000)}`, `${LOOPBACK}:${hex(50000)}`, "01", 502), // a connection to it
    line(2, `${LOOPBACK}:${hex(50001)}`, `${LOOPBACK}:${hex(41001)}`, "06", 503), // TIME_WAIT toward another port
    line(3, `00000000:${hex(41002)}`, "00000000:0000", "0A", 504), // 0.0.0.0
    line(4, `${LOOPBACK}:${hex(80)}`, "00000000:0000", "0A", 505), // a port under 0x1000
  ].join("\n") + `\n${line(5, `${LOOPBACK}:${hex(41003)}`, "00000000:0000", "0A", 506)}`.replace(/\n$/, "");

  it("finds only listeners on exactly 127.0.0.1, by inode", () => {
    assert.deepEqual(loopbackListeners(table, 41000), ["socket:[501]"]);
    assert.deepEqual(loopbackListeners(table, 41001), [], "a remote end is no listener");
    assert.deepEqual(loopbackListeners(table, 41002), [], "0.0.0.0 is not 127.0.0.1");
    assert.deepEqual(loopbackListeners(table, 80), ["socket:[505]"]);
    assert.deepEqual(loopbackListeners(table, 41003), ["socket:[506]"], "the last line");
  });

  it("holds only a listener among the process's own descriptors, on this machine's table, and says why not", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      const { port } = server.address() as { port: number };
      const mine = await holderOf(process.pid, port);
      assert.match(String(mine.inode), /^socket:\[\d+\]$/);
      assert.deepEqual(await holderOf(other.pid!, port), { inode: null, why: `the listener on 127.0.0.1:${port} is not held by lfx (pid ${other.pid})` }, "another process of the same uid");
      assert.deepEqual(await holderOf(process.pid, port, async () => ""), { inode: null, why: `nothing listened on 127.0.0.1:${port}` });
      assert.equal(await stillListening(port, mine.inode!), true);
      await new Promise<void>((r) => server.close(() => r()));
      assert.equal(await stillListening(port, mine.inode!), false, "a closed listener");
      // Another listener on the same port is another socket.
      const again = createServer();
      await new Promise<void>((r) => again.listen(port, "127.0.0.1", r));
      try {
        assert.equal(await stillListening(port, mine.inode!), false, "a new listener on the same port");
        assert.equal((await holderOf(process.pid, port)).inode !== mine.inode, true);
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
