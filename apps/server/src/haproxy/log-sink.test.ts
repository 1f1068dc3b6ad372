import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Logger } from "@flowplane/core";
import { waitFor } from "@flowplane/testkit";
import { LogSink, MAX_LINE, UNPROVEN_MS } from "./log-sink.js";

/** A logger that keeps its warnings (what the sink says when it closes a connection). */
function quietLog(warnings: string[] = []): Logger {
  const log: Logger = { debug() {}, info() {}, error() {}, warn: (a: unknown, b?: string) => { warnings.push(String(b ?? a)); }, child: () => log };
  return log;
}

const frame = (line: string) => `${Buffer.byteLength(line)} ${line}`;

describe("HAProxy's log sink (octet-counted lines over loopback TCP)", () => {
  let sink: LogSink;
  const lines: string[] = [];
  const warnings: string[] = [];
  before(async () => { sink = await LogSink.start({ log: quietLog(warnings), onLine: (l) => lines.push(l) }); });
  after(() => sink.close());

  const open = () => new Promise<Socket>((resolve, reject) => { const s = connect(sink.port, "127.0.0.1", () => resolve(s)); s.once("error", reject); });
  const closed = (s: Socket) => new Promise<void>((resolve) => { if (s.destroyed) resolve(); else s.once("close", () => resolve()); });

  it("passes on each line that carries this start's token, without it, across any split of the stream", async () => {
    lines.length = 0;
    const s = await open();
    const stream = Buffer.from(frame(`${sink.token} fpfast a r1 u|k GET / 200 1 1 -`) + frame(`${sink.token} fpfast b r1 u|k GET /é 200 1 1 -`) + frame(`${sink.token} fpfast c r1 u|k GET / 502 1 1 bad_gateway`));
    // Byte by byte: a length, a line and even a multi-byte character split over reads.
    for (let i = 0; i < stream.length; i++) s.write(stream.subarray(i, i + 1));
    await waitFor(() => lines.length === 3, { timeoutMs: 5_000, intervalMs: 10, message: "three lines" });
    assert.deepEqual(lines, ["fpfast a r1 u|k GET / 200 1 1 -", "fpfast b r1 u|k GET /é 200 1 1 -", "fpfast c r1 u|k GET / 502 1 1 bad_gateway"]);
    s.destroy();
  });

  it("passes on every line of one large write exactly, in order, ASCII or not", async () => {
    lines.length = 0;
    const s = await open();
    const ascii = Array.from({ length: 2_000 }, (_, i) => `fpfast id-${i} r1 u|k POST /flows/f/run 200 ${i % 7} 1 -`);
    const mixed = ["fpfast x r1 u|k GET /é 200 1 1 -", "fpfast y r1 u|k GET /日本 200 1 1 -", "fpfast z r1 u|k GET / 200 1 1 -"];
    s.write(ascii.map((l) => frame(`${sink.token} ${l}`)).join(""));
    s.write(mixed.map((l) => frame(`${sink.token} ${l}`)).join(""));
    await waitFor(() => lines.length === ascii.length + mixed.length, { timeoutMs: 5_000, intervalMs: 10, message: "every line" });
    assert.deepEqual(lines, [...ascii, ...mixed]);
    s.destroy();
  });

  it("closes a connection whose line lacks the token, and records nothing it sent", async () => {
    lines.length = 0;
    const s = await open();
    s.write(frame("fpfast forged r1 u|k POST /flows/f/run 200 1 1 -") + frame(`${sink.token} fpfast after r1 u|k GET / 200 1 1 -`));
    await closed(s);
    assert.deepEqual(lines, []);
    assert.ok(warnings.some((w) => /not flowplane's HAProxy/.test(w)));
  });

  it("skips a line without the token on HAProxy's own connection (one that has shown the token) and reads on", async () => {
    lines.length = 0;
    const s = await open();
    s.write(frame(`${sink.token} fpfast one r1 u|k GET / 200 1 1 -`) + frame("Server s1/x is UP") + frame(`${sink.token} fpfast two r1 u|k GET / 200 1 1 -`));
    await waitFor(() => lines.length === 2, { timeoutMs: 5_000, intervalMs: 10, message: "both tokened lines" });
    assert.deepEqual(lines.map((l) => l.split(" ")[1]), ["one", "two"]);
    assert.equal(s.destroyed, false, "still open");
    s.destroy();
  });

  it("closes a connection that shows no token in time, and refuses more than a few such at once", async () => {
    const idle = await Promise.all([open(), open(), open(), open()]);
    const fifth = await open();
    await closed(fifth); // over the cap: closed at once
    const t0 = Date.now();
    await Promise.all(idle.map(closed));
    assert.ok(Date.now() - t0 < UNPROVEN_MS + 1_500, "closed after the time allowed");
    // Room again: a connection that shows the token is read.
    lines.length = 0;
    const s = await open();
    s.write(frame(`${sink.token} fpfast again r1 u|k GET / 200 1 1 -`));
    await waitFor(() => lines.length === 1, { timeoutMs: 5_000, intervalMs: 10, message: "a line once the idle ones are gone" });
    s.destroy();
  });

  it("closes a connection that does not speak the framing: no length, a length too long", async () => {
    for (const garbage of ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", `${MAX_LINE + 1} x`, "12345678901234567890", "1e3 x", "0 ", " 5 hello"]) {
      lines.length = 0;
      const s = await open();
      s.write(garbage);
      await closed(s);
      assert.deepEqual(lines, [], garbage);
    }
  });
});
