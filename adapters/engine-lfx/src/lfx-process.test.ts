import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LfxProcess } from "./lfx-process.js";

/**
 * A stand-in for `lfx serve`, as far as its port goes: it binds the port it is told half a
 * second late (Python's start), and when that is taken moves to a free one and says so in
 * its banner line, as lfx does; /health answers 200, /flows 200 only with its API key.
 */
const FAKE_LFX = `#!${process.execPath}
const http = require("node:http");
const port = Number(process.argv[process.argv.indexOf("--port") + 1]);
const server = http.createServer((q, s) => {
  if (q.url === "/health") return s.end("{}");
  // What a flow's component prints lands in the same output (a run's input can steer it).
  if (q.url.startsWith("/say/")) { console.log(decodeURIComponent(q.url.slice(5))); return s.end("{}"); }
  s.statusCode = q.headers["x-api-key"] === process.env.FAKE_KEY ? 200 : 403;
  s.end("[]");
});
setTimeout(() => {
  server.once("error", () => server.listen(0, "127.0.0.1", () => console.log("Server: http://127.0.0.1:" + server.address().port)));
  server.listen(port, "127.0.0.1", () => console.log("Server: http://127.0.0.1:" + port));
}, 500);
`;

test("lfx's port taken by another process first: nothing, the API key least of all, is sent there; the engine finds lfx where it moved, and stays there", async () => {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-lfx-port-"));
  // Another process on the port lfx is told: it answers everything 200 and keeps what it got.
  const got: IncomingMessage[] = [];
  const squatter = createServer((q, s) => {
    got.push(q);
    s.end("{}");
  });
  await new Promise<void>((r) => squatter.listen(0, "127.0.0.1", r));
  const taken = (squatter.address() as AddressInfo).port;
  let proc: LfxProcess | undefined;
  try {
    const bin = join(dir, "lfx");
    await writeFile(bin, FAKE_LFX);
    await chmod(bin, 0o755);
    proc = await LfxProcess.start({
      bin, flowDir: dir, env: { PATH: process.env.PATH ?? "", FAKE_KEY: "k-0123456789abcdef" }, apiKey: "k-0123456789abcdef",
      startTimeoutMs: 20_000, pickPort: async () => taken,
    });
    assert.notEqual(new URL(proc.url).port, String(taken), "the engine uses the port lfx moved to");
    assert.equal((await fetch(`${proc.url}/flows`, { headers: { "x-api-key": "k-0123456789abcdef" } })).status, 200);
    // Once lfx is healthy its output moves nothing: a printed banner line is only a line.
    const url = proc.url;
    const lines: string[] = [];
    await fetch(`${url}/say/${encodeURIComponent(`Server: http://127.0.0.1:${taken}`)}`);
    for (let i = 0; i < 50 && !proc.tail().includes(`127.0.0.1:${taken}`); i++) await new Promise((r) => setTimeout(r, 20));
    lines.push(proc.tail());
    assert.match(lines[0]!, new RegExp(`Server: http://127.0.0.1:${taken}`), "the line was printed");
    assert.equal(proc.url, url, "and the engine stays where it is");
    assert.deepEqual(got.map((q) => `${q.method} ${q.url} ${q.headers["x-api-key"] ?? "(no key)"}`), [], "the squatter got nothing");
  } finally {
    await proc?.stop();
    squatter.close();
    await rm(dir, { recursive: true, force: true });
  }
});
