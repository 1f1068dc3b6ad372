import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { endianness } from "node:os";
import { describe, it } from "node:test";
import { connectionOwners, peerLineKeys, peerUid, type TcpTable } from "./loopback-peers.js";

const LE = endianness() === "LE";
/** An IPv4 address as the tables print it. */
const v4 = (a: string) => {
  const b = a.split(".").map((x) => Number(x).toString(16).toUpperCase().padStart(2, "0"));
  return (LE ? b.reverse() : b).join("");
};
const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");
const HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
/** A table line: sl, local, remote, state, uid, inode (the kernel's widths; the uid column grows past 5 digits). */
const line = (sl: number, local: string, remote: string, state: string, uid: number, inode: number) =>
  `${String(sl).padStart(4)}: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000 ${String(uid).padStart(5)}        0 ${inode} 1 0000000000000000 20 4 30 10 -1`;

describe("peerLineKeys: where the socket at the other end of a loopback connection is printed", () => {
  it("an IPv4 loopback connection: in tcp by both ends, the peer's first; else in tcp6, IPv4-mapped", () => {
    const keys = peerLineKeys({ address: "127.3.4.5", port: 50_000 }, { address: "127.0.0.1", port: 8080 });
    assert.deepEqual(keys.map((k) => k.table), ["tcp", "tcp6"]);
    assert.equal(keys[0]!.key, `${v4("127.3.4.5")}:C350 ${v4("127.0.0.1")}:1F90`);
    const mapped = LE ? "0000000000000000FFFF0000" : "00000000000000000000FFFF";
    assert.equal(keys[1]!.key, `${mapped}${v4("127.3.4.5")}:C350 ${mapped}${v4("127.0.0.1")}:1F90`);
    assert.deepEqual(peerLineKeys({ address: "::ffff:127.3.4.5", port: 50_000 }, { address: "::ffff:127.0.0.1", port: 8080 }), keys, "seen by a dual-stack listener");
  });

  it("a loopback peer connected to another address of this machine (a listener on 0.0.0.0 or a LAN address, reached from 127.x over lo) is looked up too: choosing the destination must not make a local socket an unknown one", () => {
    const keys = peerLineKeys({ address: "127.7.0.2", port: 50_000 }, { address: "10.0.0.1", port: 8080 });
    assert.deepEqual(keys.map((k) => k.table), ["tcp", "tcp6"]);
    assert.equal(keys[0]!.key, `${v4("127.7.0.2")}:C350 ${v4("10.0.0.1")}:1F90`);
    assert.deepEqual(peerLineKeys({ address: "::ffff:127.7.0.2", port: 50_000 }, { address: "::ffff:10.0.0.1", port: 8080 }), keys, "seen by a dual-stack listener");
  });

  it("::1, by the kernel's words; nothing for an address that is not loopback, or an end without a port", () => {
    const one = LE ? "00000000000000000000000001000000" : "00000000000000000000000000000001";
    assert.deepEqual(peerLineKeys({ address: "::1", port: 1 }, { address: "::1", port: 2 }), [{ table: "tcp6", key: `${one}:0001 ${one}:0002` }]);
    assert.deepEqual(peerLineKeys({ address: "203.0.113.7", port: 1 }, { address: "127.0.0.1", port: 2 }), []);

    assert.deepEqual(peerLineKeys({ address: "::2", port: 1 }, { address: "::1", port: 2 }), []);
    assert.deepEqual(peerLineKeys({ address: "127.0.0.1", port: 0 }, { address: "127.0.0.1", port: 2 }), []);
  });
});

describe("connectionOwners: each connection's line to its uid", () => {
  const peer = `${v4("127.9.9.9")}:${hex(41_000)}`;
  const server = `${v4("127.0.0.1")}:${hex(8080)}`;
  const table = [HEADER,
    line(0, server, "00000000:0000", "0A", 0, 100), // the listener
    line(1, peer, server, "01", 1_600_000_005, 101), // the client's socket (a 10-digit uid)
    line(2, server, peer, "01", 0, 102), // the server's accepted socket
    line(3, `${v4("127.0.0.1")}:${hex(41_001)}`, server, "06", 0, 0), // TIME_WAIT: uid 0, no inode
    line(4, `${v4("127.0.0.1")}:${hex(41_002)}`, server, "05", 0, 0), // FIN_WAIT2 of a closed socket: the same
    line(5, `${v4("127.0.0.1")}:${hex(41_003)}`, server, "08", 1000, 103), // CLOSE_WAIT: still its owner's
    line(12_345, `${v4("127.0.0.1")}:${hex(41_004)}`, server, "01", 1001, 104), // a wider sl
  ].join("\n") + "\n";

  it("keys a line by `<local> <remote>` and reads its uid; listeners, TIME_WAIT and closed sockets name no owner", () => {
    const owners = connectionOwners(table);
    assert.equal(owners.get(`${peer} ${server}`), 1_600_000_005);
    assert.equal(owners.get(`${server} ${peer}`), 0, "the other end, this process's");
    assert.equal(owners.has(`${server} 00000000:0000`), false);
    assert.equal(owners.has(`${v4("127.0.0.1")}:${hex(41_001)} ${server}`), false);
    assert.equal(owners.has(`${v4("127.0.0.1")}:${hex(41_002)} ${server}`), false);
    assert.equal(owners.get(`${v4("127.0.0.1")}:${hex(41_003)} ${server}`), 1000);
    assert.equal(owners.get(`${v4("127.0.0.1")}:${hex(41_004)} ${server}`), 1001);
    assert.equal(owners.size, 4);
    assert.equal(connectionOwners("").size, 0);
    assert.equal(connectionOwners(HEADER).size, 0);
  });

  it("peerUid: the peer's uid by both ends; a miss read once more; tcp6 read only when tcp does not hold it; a failed read rejects", async () => {
    const reads: TcpTable[] = [];
    const tables = (tcp: string[], tcp6 = [HEADER]) => {
      const n = { tcp: 0, tcp6: 0 };
      return async (t: TcpTable) => {
        reads.push(t);
        const list = t === "tcp" ? tcp : tcp6;
        return connectionOwners(list[Math.min(n[t]++, list.length - 1)]!);
      };
    };
    const ends = [{ address: "127.9.9.9", port: 41_000 }, { address: "127.0.0.1", port: 8080 }] as const;
    assert.equal(await peerUid(tables([table]), ...ends), 1_600_000_005);
    assert.deepEqual(reads.splice(0), ["tcp"]);
    assert.equal(await peerUid(tables([HEADER, table]), ...ends), 1_600_000_005, "missed once, then seen");
    assert.deepEqual(reads.splice(0), ["tcp", "tcp6", "tcp"]);
    assert.equal(await peerUid(tables([HEADER]), ...ends), undefined);
    assert.deepEqual(reads.splice(0), ["tcp", "tcp6", "tcp", "tcp6"], "twice each, then none");
    assert.equal(await peerUid(tables([table]), { address: "203.0.113.7", port: 41_000 }, ends[1]), undefined);
    assert.deepEqual(reads.splice(0), [], "not loopback: nothing read");
    await assert.rejects(peerUid(async () => { throw new Error("EMFILE"); }, ...ends), /EMFILE/);
  });

  it("finds a real connection's peer in this machine's /proc/net/tcp, owned by this process's uid", async (t) => {
    let text: string;
    try {
      text = await readFile("/proc/net/tcp", "utf8");
    } catch {
      return t.skip("no /proc/net/tcp here");
    }
    assert.ok(text.length > 0);
    const server = createServer();
    const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const client = connect({ port: (server.address() as AddressInfo).port, host: "127.0.0.1", localAddress: "127.0.0.42" });
    try {
      const socket = await accepted;
      const uid = await peerUid(async (table) => connectionOwners(await readFile(`/proc/net/${table}`, "utf8")), { address: socket.remoteAddress!, port: socket.remotePort! }, { address: socket.localAddress!, port: socket.localPort! });
      assert.equal(socket.remoteAddress, "127.0.0.42");
      assert.equal(uid, process.getuid!());
    } finally {
      client.destroy();
      server.close();
    }
  });
});
