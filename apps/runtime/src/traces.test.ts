import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger, RunTrace } from "@flowplane/core/replica";
import { TraceShipper } from "./traces.js";
import { retryDelayMs, TRACE_RETRY } from "./trace-retry.js";

// The shipper against a real control plane stand-in (node:http on 127.0.0.1) whose answers each
// test scripts: what arrives, how often, and when.

const TOKEN = "identity-token-not-for-logs";

interface Received {
  at: number;
  ids: string[];
  authorization: string | undefined;
}

/** A control plane answering each request with `answer(n)` (n: 0 for the first); null: never answers. */
async function controlPlane(answer: (n: number) => { status: number; headers?: Record<string, string> } | null) {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      const n = received.length;
      received.push({ at: Date.now(), ids: (JSON.parse(body) as { traces: RunTrace[] }).traces.map((t) => t.requestId), authorization: req.headers.authorization });
      const a = answer(n);
      if (!a) return void hanging.push(res);
      res.writeHead(a.status, { "content-type": "application/json", ...a.headers }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/internal/v1/deployments/dep-1/traces`;
  return {
    url,
    received,
    close: () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function logger() {
  const warns: { fields: Record<string, unknown>; msg: string }[] = [];
  const log: Logger = {
    debug: () => {},
    info: () => {},
    error: () => {},
    warn: (a: unknown, b?: string) => void warns.push(typeof a === "string" ? { fields: {}, msg: a } : { fields: a as Record<string, unknown>, msg: b ?? "" }),
    child: () => log,
  };
  return { log, warns };
}

function trace(requestId: string): RunTrace {
  return { requestId, flowId: "f", revision: 1, engine: "native", start: new Date().toISOString(), durationMs: 1, status: "ok", error: null, tokens: null, spans: [] };
}

function shipper(url: string, log: Logger, extra: { maxBuffered?: number; sendTimeoutMs?: number } = {}) {
  return new TraceShipper({ target: { url, token: { value: TOKEN } }, log, intervalMs: 20, ...extra });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(10);
  }
}

for (const status of [429, 503]) test(`a batch answered ${status} with Retry-After: 1 is sent again after it, and arrives once`, async () => {
  const cp = await controlPlane((n) => (n === 0 ? { status, headers: { "retry-after": "1" } } : { status: 200 }));
  const { log, warns } = logger();
  const s = shipper(cp.url, log);
  try {
    s.add(trace("r1"));
    s.add(trace("r2"));
    await until(() => cp.received.length === 2);
    await sleep(300); // no third send
    assert.equal(cp.received.length, 2);
    assert.deepEqual(cp.received.map((r) => r.ids), [["r1", "r2"], ["r1", "r2"]]);
    assert.ok(cp.received[1]!.at - cp.received[0]!.at >= 950, `sent again after ${cp.received[1]!.at - cp.received[0]!.at} ms`);
    assert.equal(cp.received[1]!.authorization, `Bearer ${TOKEN}`);
    assert.equal(s.dropped, 0);
    assert.equal(s.retried, 2);
    assert.equal(s.held, 0);
    assert.deepEqual(warns, []);
  } finally {
    await s.close();
    await cp.close();
  }
});

test("a batch the control plane keeps refusing (429) is dropped after the attempt limit, counted and warned without the token", async () => {
  const cp = await controlPlane(() => ({ status: 429, headers: { "retry-after": "1" } }));
  const { log, warns } = logger();
  const s = shipper(cp.url, log);
  try {
    s.add(trace("r1"));
    s.add(trace("r2"));
    s.add(trace("r3"));
    await until(() => s.dropped === 3);
    await sleep(1300); // past another Retry-After: nothing more is sent
    assert.equal(cp.received.length, TRACE_RETRY.attempts);
    assert.equal(TRACE_RETRY.attempts, 3);
    for (const r of cp.received) assert.deepEqual(r.ids, ["r1", "r2", "r3"]);
    assert.equal(s.held, 0);
    assert.equal(warns.length, 1);
    assert.equal(warns[0]!.fields.dropped, 3);
    assert.equal(warns[0]!.fields.retried, 6);
    assert.match(String(warns[0]!.fields.error), /429/);
    assert.ok(!JSON.stringify(warns).includes(TOKEN));
  } finally {
    await s.close();
    await cp.close();
  }
});

test("a batch answered 400 is dropped at once, never sent again (even with a Retry-After)", async () => {
  const cp = await controlPlane(() => ({ status: 400, headers: { "retry-after": "1" } }));
  const { log, warns } = logger();
  const s = shipper(cp.url, log);
  try {
    s.add(trace("r1"));
    await s.flush();
    assert.equal(s.dropped, 1);
    assert.equal(s.held, 0);
    await sleep(1300);
    assert.equal(cp.received.length, 1);
    assert.equal(s.retried, 0);
    assert.match(String(warns[0]?.fields.error), /400/);
  } finally {
    await s.close();
    await cp.close();
  }
});

test("a send that times out is dropped, not sent again", async () => {
  const cp = await controlPlane(() => null);
  const { log } = logger();
  const s = shipper(cp.url, log, { sendTimeoutMs: 200 });
  try {
    s.add(trace("r1"));
    await s.flush();
    assert.equal(s.dropped, 1);
    await sleep(400);
    assert.equal(cp.received.length, 1);
  } finally {
    await s.close();
    await cp.close();
  }
});

test("while a batch waits for its retry it counts against the bound, and nothing newer is sent ahead of it", async () => {
  const cp = await controlPlane((n) => (n === 0 ? { status: 429, headers: { "retry-after": "60" } } : { status: 200 }));
  const { log } = logger();
  const s = shipper(cp.url, log, { maxBuffered: 5 });
  try {
    for (const id of ["a1", "a2", "a3"]) s.add(trace(id));
    await s.flush(); // sent, refused: it now waits 60 s
    assert.equal(cp.received.length, 1);
    assert.equal(s.held, 3);
    for (const id of ["b1", "b2", "b3", "b4"]) s.add(trace(id));
    assert.equal(s.held, 5, "3 waiting + 2 buffered");
    assert.equal(s.dropped, 2, "b3 and b4 did not fit");
    await sleep(200); // ten ticks: the waiting batch holds back the newer one
    assert.equal(cp.received.length, 1);
    // Draining sends the waiting batch first, then the newer one.
    await s.close();
    assert.deepEqual(cp.received.map((r) => r.ids), [["a1", "a2", "a3"], ["a1", "a2", "a3"], ["b1", "b2"]]);
    assert.equal(s.held, 0);
    assert.equal(s.dropped, 2);
  } finally {
    await s.close();
    await cp.close();
  }
});

test("what is held is bounded in JSON characters too, the waiting batch included, and a sent batch frees its share", async () => {
  const cp = await controlPlane((n) => (n === 0 ? { status: 429, headers: { "retry-after": "60" } } : { status: 200 }));
  const { log } = logger();
  const size = JSON.stringify(trace("a1")).length;
  // Room for three traces' JSON, far under the count bound: the characters decide.
  const s = new TraceShipper({ target: { url: cp.url, token: { value: TOKEN } }, log, intervalMs: 20, maxBuffered: 2000, maxBufferedChars: 3 * size + 10 });
  try {
    s.add(trace("a1"));
    s.add(trace("a2"));
    await s.flush(); // sent, refused: it now waits 60 s, its two traces still held
    assert.equal(cp.received.length, 1);
    s.add(trace("b1"));
    s.add(trace("b2"));
    assert.equal(s.held, 3, "2 waiting + 1 buffered");
    assert.equal(s.dropped, 1, "b2 did not fit");
    // Draining sends both batches: what they held is freed, so as much fits again.
    await s.close();
    assert.deepEqual(cp.received.map((r) => r.ids), [["a1", "a2"], ["a1", "a2"], ["b1"]]);
    for (const id of ["c1", "c2", "c3", "c4"]) s.add(trace(id));
    assert.equal(s.held, 3);
    assert.equal(s.dropped, 2, "only c4 more");
  } finally {
    await s.close();
    await cp.close();
  }
});

test("close during a long Retry-After sends the batch once more without waiting, and drops it when refused again", async () => {
  const cp = await controlPlane(() => ({ status: 429, headers: { "retry-after": "60" } }));
  const { log } = logger();
  const s = shipper(cp.url, log);
  try {
    s.add(trace("r1"));
    s.add(trace("r2"));
    await s.flush(); // sent, refused: it now waits 60 s
    assert.equal(cp.received.length, 1);
    assert.equal(s.held, 2);
    const started = Date.now();
    await s.close();
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
    assert.equal(cp.received.length, 2);
    assert.equal(s.dropped, 2);
    assert.equal(s.held, 0);
  } finally {
    await cp.close();
  }
});

test("close gives up at its budget when the control plane does not answer, dropping what is left", async () => {
  const cp = await controlPlane(() => null);
  const { log, warns } = logger();
  const s = shipper(cp.url, log, { maxBuffered: 500 });
  try {
    // Two batches (200 + 50): the first hangs, the second is never sent.
    for (let i = 0; i < 250; i++) s.add(trace(`r${i}`));
    const started = Date.now();
    await s.close(300);
    assert.ok(Date.now() - started < 1500, `close took ${Date.now() - started} ms`);
    assert.equal(cp.received.length, 1);
    assert.equal(s.dropped, 250);
    assert.equal(s.held, 0);
    assert.match(String(warns[0]?.fields.error), /ran out/);
  } finally {
    await cp.close();
  }
});

test("retryDelayMs: Retry-After in seconds or as an HTTP date, clamped to 1..60 s; none or invalid: 5 s, then 10 s", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  // The random spread (tested below) held at none, to read the wait itself.
  const noSpread = () => 0;
  assert.equal(retryDelayMs("1", 1, TRACE_RETRY, now, noSpread), 1000);
  assert.equal(retryDelayMs(" 30 ", 1, TRACE_RETRY, now, noSpread), 30_000);
  assert.equal(retryDelayMs("0", 1, TRACE_RETRY, now, noSpread), 1000);
  assert.equal(retryDelayMs("3600", 1, TRACE_RETRY, now, noSpread), 60_000);
  assert.equal(retryDelayMs(new Date(now + 10_000).toUTCString(), 1, TRACE_RETRY, now, noSpread), 10_000);
  assert.equal(retryDelayMs(new Date(now - 10_000).toUTCString(), 1, TRACE_RETRY, now, noSpread), 1000);
  assert.equal(retryDelayMs(null, 1, TRACE_RETRY, now, noSpread), 5000);
  assert.equal(retryDelayMs(null, 2, TRACE_RETRY, now, noSpread), 10_000);
  assert.equal(retryDelayMs("1.5", 1, TRACE_RETRY, now, noSpread), 5000);
  assert.equal(retryDelayMs("-1", 2, TRACE_RETRY, now, noSpread), 10_000);
  assert.equal(retryDelayMs("soon", 1, TRACE_RETRY, now, noSpread), 5000);
});

test("retryDelayMs: the wait is lengthened by up to half at random, never shortened, so replicas refused together come back apart", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(TRACE_RETRY.jitter, 0.5);
  assert.equal(retryDelayMs("1", 1, TRACE_RETRY, now, () => 0.5), 1250);
  assert.equal(retryDelayMs("3600", 1, TRACE_RETRY, now, () => 0.999), 89_970);
  assert.equal(retryDelayMs(null, 2, TRACE_RETRY, now, () => 0.2), 11_000);
  // A hundred replicas told `Retry-After: 1` at the same moment: none comes back before 1 s,
  // none after 1.5 s, and they do not all come back in the same instant.
  const waits = Array.from({ length: 100 }, () => retryDelayMs("1", 1, TRACE_RETRY, now));
  assert.ok(waits.every((w) => w >= 1000 && w <= 1500), JSON.stringify(waits));
  assert.ok(Math.max(...waits) - Math.min(...waits) >= 250, `spread over ${Math.max(...waits) - Math.min(...waits)} ms only`);
  assert.ok(new Set(waits).size >= 20, `${new Set(waits).size} distinct waits`);
});
