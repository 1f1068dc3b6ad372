import assert from "node:assert/strict";
import { endianness } from "node:os";
import { describe, it } from "node:test";
import { loopbackListeners } from "./loopback-listeners.js";

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
    assert.deepEqual(loopbackListeners(table, 41000), ["socket:[501]"]);
    assert.deepEqual(loopbackListeners(table, 41001), [], "a remote end is no listener");
    assert.deepEqual(loopbackListeners(table, 41002), [], "0.0.0.0 is not 127.0.0.1");
    assert.deepEqual(loopbackListeners(table, 80), ["socket:[505]"]);
    assert.deepEqual(loopbackListeners(table, 41003), ["socket:[506]"], "the last line");
  });
});
