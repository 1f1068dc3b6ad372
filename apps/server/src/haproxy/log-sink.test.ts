import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Logger } from "@flowplane/core";
import { waitFor } from "@flowplane/testkit";
import { LogSink, MAX_LINE } from "./log-sink.js";

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

  it("closes a connection whose line lacks the token, and records nothing it sent", async () => {
    lines.length = 0;
    const s = await open();
    s.write(frame("fpfast forged r1 u|k POST /flows/f/run 200 1 1 -") + frame(`${sink.token} fpfast after r1 u|k GET / 200 1 1 -`));
    await closed(s);
    assert.deepEqual(lines, []);
    assert.ok(warnings.some((w) => /not flowplane's HAProxy/.test(w)));
  });

  it("closes a connection that does not speak the framing: no length, a length too long", async () => {
    for (const garbage of ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", `${MAX_LINE + 1} x`, "12345678901234567890"]) {
      lines.length = 0;
      const s = await open();
      s.write(garbage);
      await closed(s);
      assert.deepEqual(lines, [], garbage);
    }
  });
});
