import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { squatPort } from "@flowplane/testkit";
import { causeOf, LfxProcess } from "./lfx-process.js";

/**
 * A stand-in for `lfx serve`, as far as its port goes: it binds the port it is told half a
 * second late (Python's start), and when that is taken moves to a free one and says so in
 * its banner line, as lfx does; /health answers 200, /flows 200 only with its API key.
 */
const FAKE_LFX = `#!${process.execPath}
const http = require("node:http");
const port = Number(process.argv[process.argv.indexOf("--port") + 1]);
// Every answer closes its connection: each request of the tests opens a new one, which is what the engine checks.
const server = http.createServer((q, s) => {
  s.shouldKeepAlive = false;
  if (q.url === "/health") return s.end("{}");
  // lfx's listener gone while lfx runs (the runtime cannot tell this from a death it has not heard of yet).
  if (q.url === "/unlisten") { s.end("{}"); server.close(); setInterval(() => {}, 1000); return setImmediate(() => server.closeAllConnections()); }
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

/** A fake lfx started on a free port, for the tests below. */
async function started(dir: string, extra: Partial<Parameters<typeof LfxProcess.start>[0]> = {}): Promise<LfxProcess> {
  const bin = join(dir, "lfx");
  await writeFile(bin, FAKE_LFX);
  await chmod(bin, 0o755);
  return LfxProcess.start({ bin, flowDir: dir, env: { PATH: process.env.PATH ?? "", FAKE_KEY: KEY }, apiKey: KEY, startTimeoutMs: 20_000, ...extra });
}
const KEY = "k-0123456789abcdef";

/** A server on `port` (bound once the port is free) that records every request and answers 200. */
const squat = (port: number, got: string[]): Promise<Server> => squatPort(port, (q) => got.push(`${q.method} ${q.url} ${q.headers["x-api-key"] ?? "(no key)"}`), { answer: "[]" });

test("after the start, a connection to lfx's port is checked before anything is written: lfx's listener gone and another bound there gets nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-lfx-conn-"));
  const got: string[] = [];
  let proc: LfxProcess | undefined;
  let squatter: Server | undefined;
  try {
    proc = await started(dir);
    assert.equal((await proc.fetch("/flows", { headers: { "x-api-key": KEY } })).status, 200, "lfx itself is served");
    const port = Number(new URL(proc.url).port);
    // lfx closes its listener and every connection, and lives on: no exit event tells the runtime.
    await (await proc.fetch("/unlisten")).text();
    squatter = await squat(port, got);
    const refused = await proc.fetch("/flows", { headers: { "x-api-key": KEY } }).then(() => null, (e: Error) => e);
    assert.ok(refused, "the request is refused");
    assert.match(causeOf(refused), new RegExp(`lfx's port ${port} is not lfx's: lfx no longer listens there`));
    assert.deepEqual(got, [], "the squatter got no request, and no key");
  } finally {
    await proc?.stop();
    squatter?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("lfx killed, its port bound by another process at once: the next request reaches nobody", async () => {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-lfx-dead-"));
  const got: string[] = [];
  let proc: LfxProcess | undefined;
  let squatter: Server | undefined;
  try {
    proc = await started(dir);
    const port = Number(new URL(proc.url).port);
    process.kill(proc.pid!, "SIGKILL");
    squatter = await squat(port, got);
    const refused = await proc.fetch("/flows", { headers: { "x-api-key": KEY } }).then(() => null, (e: Error) => e);
    assert.ok(refused, "the request is refused");
    assert.match(causeOf(refused), /is not lfx's: lfx (has exited|no longer listens there)/);
    assert.deepEqual(got, [], "the squatter got no request, and no key");
  } finally {
    await proc?.stop();
    squatter?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a start that cannot be healthy says why: a command that runs lfx as a child, or a /proc/net/tcp it cannot read (at once)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-lfx-why-"));
  try {
    // A wrapper that does not exec: the listener is its child's, never the started process's.
    await writeFile(join(dir, "lfx-real"), FAKE_LFX);
    await chmod(join(dir, "lfx-real"), 0o755);
    const wrapper = join(dir, "lfx-wrapper");
    await writeFile(wrapper, `#!/bin/sh\n"${join(dir, "lfx-real")}" "$@"\nexit $?\n`);
    await chmod(wrapper, 0o755);
    await assert.rejects(
      LfxProcess.start({ bin: wrapper, flowDir: dir, env: { PATH: process.env.PATH ?? "", FAKE_KEY: KEY }, apiKey: KEY, startTimeoutMs: 3_000 }),
      /not healthy within 3000 ms: the listener on 127\.0\.0\.1:\d+ is not held by lfx \(pid \d+\) \(another process holds the port, or the lfx command runs lfx as a child instead of exec-ing it\)/,
    );
    const t0 = Date.now();
    await assert.rejects(
      started(dir, { startTimeoutMs: 20_000, readTable: () => Promise.reject(new Error("cannot read /proc/net/tcp (EACCES)")) }),
      /cannot read \/proc\/net\/tcp \(EACCES\)/,
    );
    assert.ok(Date.now() - t0 < 10_000, "at once, not after the start's timeout");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
