import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { endianness } from "node:os";
import { describe, it } from "node:test";
import { heldBy, loopbackListeners, readTcpTable } from "./port-owner.js";

/** A /proc/net/tcp line: `addr` as the kernel prints it (host byte order), `port` in decimal. */
const line = (sl: number, addr: string, port: number, remote: string, state: string, uid: number, inode: number) =>
  `  ${sl}: ${addr}:${port.toString(16).toUpperCase().padStart(4, "0")} ${remote} ${state} 00000000:00000000 00:00000000 00000000  ${uid}        0 ${inode} 1 0000000000000000 100 0 0 10 0`;
const LOOPBACK = endianness() === "LE" ? "0100007F" : "7F000001";
const OTHER = endianness() === "LE" ? "0200007F" : "7F000002"; // 127.0.0.2
const NONE = "00000000:0000";
const HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

describe("port-owner: whose socket a connection to 127.0.0.1:<port> reaches", () => {
  const table = [HEADER,
    line(0, LOOPBACK, 41000, NONE, "0A", 7, 501), // the replica's calls
    line(1, LOOPBACK, 41001, NONE, "0A", 7, 502), // its probes
    line(2, LOOPBACK, 41000, `${LOOPBACK}:9C40`, "01", 0, 503), // a connection to it: not a listener
    line(3, "00000000", 41002, NONE, "0A", 9, 504), // a wildcard listener, no 127.0.0.1 one
    line(4, OTHER, 41003, NONE, "0A", 9, 505), // another loopback address
    line(5, LOOPBACK, 41004, NONE, "0A", 9, 506), // another process's
    line(6, LOOPBACK, 41005, NONE, "0A", 7, 507), line(7, LOOPBACK, 41005, NONE, "0A", 7, 508), // SO_REUSEPORT: two
  ].join("\n");
  const fds = async (pid: number) => new Set(pid === 100 ? ["socket:[501]", "socket:[502]", "socket:[507]", "pipe:[9]"] : ["socket:[506]"]);

  it("finds the listeners bound to exactly 127.0.0.1, and nothing else", () => {
    assert.deepEqual(loopbackListeners(table, 41000), ["socket:[501]"]);
    assert.deepEqual(loopbackListeners(table, 41005), ["socket:[507]", "socket:[508]"]);
    assert.deepEqual(loopbackListeners(table, 41002), [], "0.0.0.0 is not where the replica binds");
    assert.deepEqual(loopbackListeners(table, 41003), []);
    assert.deepEqual(loopbackListeners(table, 41999), []);
  });

  it("holds only when every port has a listener and the process holds every one of them", async () => {
    assert.equal(await heldBy(100, [41000, 41001], table, fds), true);
    assert.equal(await heldBy(100, [41000, 41004], table, fds), false, "one port is another process's socket");
    assert.equal(await heldBy(100, [41000, 41999], table, fds), false, "one port nobody listens on yet");
    assert.equal(await heldBy(100, [41005], table, fds), false, "one of two listeners is not its own");
    assert.equal(await heldBy(200, [41004], table, fds), true);
  });

  it("reads this machine's tables as the kernel writes them: a listener of this process, and not of another", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      const { port } = server.address() as { port: number };
      const t = await readTcpTable();
      assert.equal(loopbackListeners(t, port).length, 1);
      assert.equal(await heldBy(process.pid, [port], t), true);
      assert.equal(await heldBy(other.pid!, [port], t), false);
      assert.equal(await heldBy(2 ** 22 + 1, [port], t), false, "no such process");
    } finally {
      other.kill("SIGKILL");
      server.close();
    }
  });
});
