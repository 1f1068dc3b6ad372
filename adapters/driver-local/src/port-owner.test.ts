import assert from "node:assert/strict";
import { endianness } from "node:os";
import { describe, it } from "node:test";
import { heldBy, loopbackListenerUids, readTcpTable } from "./port-owner.js";

/** A /proc/net/tcp line: `addr` as the kernel prints it (host byte order), `port` in decimal. */
const line = (sl: number, addr: string, port: number, state: string, uid: number) =>
  `  ${sl}: ${addr}:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000  ${uid}        0 ${1000 + sl} 1 0000000000000000 100 0 0 10 0`;
const LOOPBACK = endianness() === "LE" ? "0100007F" : "7F000001";
const OTHER = endianness() === "LE" ? "0200007F" : "7F000002"; // 127.0.0.2
const HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

describe("port-owner: whose listener a connection to 127.0.0.1:<port> reaches", () => {
  const table = [HEADER,
    line(0, LOOPBACK, 41000, "0A", 1500000007), // the replica's calls
    line(1, LOOPBACK, 41001, "0A", 1500000007), // its probes
    line(2, LOOPBACK, 41000, "01", 0), // a connection to it (established): not a listener
    line(3, "00000000", 41002, "0A", 1500000009), // a wildcard listener, no 127.0.0.1 one
    line(4, OTHER, 41003, "0A", 1500000009), // another loopback address
    line(5, LOOPBACK, 41004, "0A", 1500000009), // another deployment's
  ].join("\n");
  const read = async () => table;

  it("reads the uid of the listener bound to exactly 127.0.0.1, and nothing else", () => {
    assert.deepEqual(loopbackListenerUids(table, 41000), [1500000007]);
    assert.deepEqual(loopbackListenerUids(table, 41002), [], "0.0.0.0 is not where the replica binds");
    assert.deepEqual(loopbackListenerUids(table, 41003), []);
    assert.deepEqual(loopbackListenerUids(table, 41999), []);
  });

  it("holds only when every port has a listener and all are the uid's", async () => {
    assert.equal(await heldBy(1500000007, [41000, 41001], read), true);
    assert.equal(await heldBy(1500000007, [41000, 41004], read), false, "one port is another uid's");
    assert.equal(await heldBy(1500000007, [41000, 41999], read), false, "one port nobody listens on yet");
    assert.equal(await heldBy(1500000009, [41000], read), false);
  });

  it("reads this machine's table as the kernel writes it", async () => {
    const { createServer } = await import("node:net");
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as { port: number };
      assert.deepEqual(loopbackListenerUids(await readTcpTable(), port), [process.getuid!()]);
      assert.equal(await heldBy(process.getuid!(), [port]), true);
      assert.equal(await heldBy(process.getuid!() + 1, [port]), false);
    } finally {
      server.close();
    }
  });
});
