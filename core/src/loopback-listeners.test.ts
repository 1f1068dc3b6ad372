import assert from "node:assert/strict";
import { endianness } from "node:os";
import { describe, it } from "node:test";
import { LISTENER_ID, listenerId, listensAt, loopbackListeners, sharedReads, stillListensAt } from "./loopback-listeners.js";

const LOOPBACK = endianness() === "LE" ? "0100007F" : "7F000001";
const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");
/** A /proc/net/tcp line. */
const line = (sl: number, local: string, remote: string, state: string, inode: number) =>
  `  ${sl}: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 100 0 0 10 0`;

describe("loopbackListeners: the sockets listening on 127.0.0.1:<port> in /proc/net/tcp", () => {
  const table = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    line(0, `${LOOPBACK}:${hex(41000)}`, "00000000:0000", "0A", 501),
    line(1, `${LOOPBACK}:${hex(41000)}`, `${LOOPBACK}:${hex(50000)}`, "01", 502), // a connection to it
    line(2, `${LOOPBACK}:${hex(50001)}`, `${LOOPBACK}:${hex(41001)}`, "06", 503), // TIME_WAIT toward another port
    line(3, `00000000:${hex(41002)}`, "00000000:0000", "0A", 504), // 0.0.0.0
    line(4, `${LOOPBACK}:${hex(80)}`, "00000000:0000", "0A", 505), // a port under 0x1000
  ].join("\n") + `\n${line(5, `${LOOPBACK}:${hex(41003)}`, "00000000:0000", "0A", 506)}`.replace(/\n$/, "");

  it("finds only listeners on exactly 127.0.0.1, by inode", () => {
    const inodes = (port: number) => loopbackListeners(table, port).map((l) => l.inode);
    assert.deepEqual(loopbackListeners(table, 41000), [{ inode: "socket:[501]", uid: 1000 }]);
    assert.deepEqual(inodes(41001), [], "a remote end is no listener");
    assert.deepEqual(inodes(41002), [], "0.0.0.0 is not 127.0.0.1");
    assert.deepEqual(inodes(80), ["socket:[505]"]);
    assert.deepEqual(inodes(41003), ["socket:[506]"], "the last line");
  });

  it("names a listener by its inode and its maker's uid: the same inode made by another uid is another listener", () => {
    const other = `${line(0, `${LOOPBACK}:${hex(42000)}`, "00000000:0000", "0A", 501).replace("  1000        0 501", "  2000        0 501")}`;
    assert.equal(listenerId({ inode: "socket:[501]", uid: 1000 }), "socket:[501]/1000");
    assert.match("socket:[501]/1000", LISTENER_ID);
    assert.doesNotMatch("socket:[501]", LISTENER_ID);
    assert.equal(listensAt(table, 41000, "socket:[501]/1000"), true);
    assert.equal(listensAt(other, 42000, "socket:[501]/1000"), false, "a wrapped inode counter's twin under another uid");
    assert.equal(listensAt(other, 42000, "socket:[501]/2000"), true);
    assert.equal(listensAt(table, 41001, "socket:[502]/1000"), false, "a connection's inode is no listener");
  });

  it("stillListensAt: a listener seen is certain at one read; a miss is read once more before a no", async () => {
    const reads = (...tables: string[]) => {
      const calls = { n: 0 };
      return { calls, read: async () => tables[Math.min(calls.n++, tables.length - 1)]! };
    };
    const seen = reads(table);
    assert.equal(await stillListensAt(seen.read, 41000, "socket:[501]/1000"), true);
    assert.equal(seen.calls.n, 1, "no second read once seen");
    const missedOnce = reads("", table);
    assert.equal(await stillListensAt(missedOnce.read, 41000, "socket:[501]/1000"), true, "a read that missed it, then one that saw it");
    assert.equal(missedOnce.calls.n, 2);
    const gone = reads(table);
    assert.equal(await stillListensAt(gone.read, 41000, "socket:[999]/1000"), false);
    assert.equal(gone.calls.n, 2, "read twice before the answer is no");
    await assert.rejects(stillListensAt(async () => { throw new Error("EACCES"); }, 41000, "socket:[501]/1000"), /EACCES/);
  });
});

describe("sharedReads: each caller gets a read begun after its call, shared with whoever asked meanwhile", () => {
  it("a call during a read waits for the next one; calls during the same read share it; a call after starts its own", async () => {
    const started: ((v: string) => void)[] = [];
    const read = sharedReads(() => new Promise<string>((resolve) => started.push(resolve)));
    const first = read();
    assert.equal(started.length, 1);
    const second = read();
    const third = read();
    assert.equal(started.length, 1, "no second read while the first runs");
    started[0]!("table 1");
    assert.equal(await first, "table 1");
    await new Promise((r) => setImmediate(r));
    assert.equal(started.length, 2, "the next read begins once the first is done");
    started[1]!("table 2");
    assert.equal(await second, "table 2", "not the read that began before the call");
    assert.equal(await third, "table 2", "shared");
    const fourth = read();
    assert.equal(started.length, 3);
    started[2]!("table 3");
    assert.equal(await fourth, "table 3");
  });

  it("a failed read fails its callers only; the next call reads again", async () => {
    let n = 0;
    const read = sharedReads(async () => {
      n += 1;
      if (n === 1) throw new Error("EACCES");
      return `table ${n}`;
    });
    await assert.rejects(read(), /EACCES/);
    assert.equal(await read(), "table 2");
  });
});
