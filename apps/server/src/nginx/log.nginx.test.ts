import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import { freePort } from "@flowplane/testkit";
import type { FastCall, FastCount } from "../fast-path/state.js";
import { parseFastCount, parseFastLine } from "../haproxy/log-line.js";
import { LogSink } from "../haproxy/log-sink.js";
import { call, closedAddress, routeEntry, sha256hex, SKIP_WITHOUT_NGINX, startReplica, startTestNginx, type TestNginx, type TestServer } from "./test-nginx.js";

/**
 * A loopback relay in front of the real LogSink, on a port of its own that can go down and come
 * back (LogSink.start takes a new port and token each start; the sink being unreachable is what
 * nginx can see).
 */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(readonly port: number, private readonly target: number) {}
  async up(): Promise<void> {
    const server = createServer((c) => {
      const u = connect(this.target, "127.0.0.1");
      for (const s of [c, u]) { this.sockets.add(s); s.on("close", () => this.sockets.delete(s)); s.on("error", () => { c.destroy(); u.destroy(); }); }
      c.pipe(u);
      u.pipe(c);
    });
    await new Promise<void>((r) => server.listen(this.port, "127.0.0.1", r));
    this.server = server;
  }
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

const until = async (what: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !what() && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
};

/** Route r1 (revision 2) to `address`, and `key` for user u1's key k1 in project p1. */
async function programR1(nginx: TestNginx, address: string, key: string): Promise<void> {
  assert.deepEqual((await nginx.program.send({
    routes: { set: [routeEntry("r1", [address], { revision: 2 })] },
    keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ttlMs: 4_000 }] },
  })).errors, []);
}

/** nginx's per-call log (lua-log.ts) read by the control plane's own LogSink and parseFastLine, unchanged. */
describe("nginx's per-call log to the log sink", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let nginx: TestNginx;
  let sink: LogSink;
  let relay: Relay;
  let replica: TestServer & { address: string };
  const calls: FastCall[] = [];
  const counts: FastCount[] = [];
  const other: string[] = [];
  const key = "fp_" + "k".repeat(43);
  const fast = (path: string, o: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
    call(nginx.port, path, { ...o, headers: { "x-access-key": key, ...o.headers } });

  before(async () => {
    sink = await LogSink.start({ log: memoryLogger().log, onLine: (l) => {
      const c = parseFastLine(l);
      if (c) return void calls.push(c);
      const n = parseFastCount(l);
      if (n) counts.push(n); else other.push(l);
    } });
    relay = new Relay(await freePort(), sink.port);
    await relay.up();
    replica = await startReplica((req, res) => {
      if (req.url?.startsWith("/err")) { res.statusCode = 422; res.setHeader("x-flowplane-error", "bad input/é"); }
      // Two error headers on a 200 answer: the run history records the last, whatever the status (HAProxy's res.fhdr();
      // the workers record none: undici gives them an array).
      if (req.url?.startsWith("/twice")) res.setHeader("x-flowplane-error", ["first", "second"]);
      // A header that is not x-flowplane-error, though nginx's $sent_http_x_flowplane_error matched it: nothing recorded.
      if (req.url?.startsWith("/underscore")) res.setHeader("x_flowplane_error", "not-this");
      if (req.headers["x-test-revision"]) res.setHeader("x-flowplane-revision", String(req.headers["x-test-revision"]));
      res.end("ok");
    });
    nginx = await startTestNginx({ workers: 2, logSink: { port: relay.port, token: sink.token } });
    const res = await nginx.program.send({
      routes: { set: [routeEntry("r1", [replica.address], { revision: 3 }), routeEntry("r0", [replica.address], { revision: null }), routeEntry("down", [await closedAddress()])] },
      keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ttlMs: 4_000 }] },
    });
    assert.deepEqual(res.errors, []);
  });
  after(async () => {
    await nginx?.stop();
    await replica?.close();
    await relay?.down();
    await sink?.close();
  });

  /** The key again: an entry lives 4 s at most, and this suite runs longer. */
  const renewKey = async () => assert.deepEqual((await nginx.program.send({ keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ttlMs: 4_000 }] } })).errors, []);

  it("writes one line per call that may be a run, with HAProxy's fields; none for a call handed to the workers", async () => {
    await renewKey();
    calls.length = 0;
    counts.length = 0;
    const ids: string[] = [];
    const n = 40;
    // Any method on a run's path is a run's line (runs/call.ts flowIdOf takes the path alone).
    const runPath = (i: number) => [`/flows/f${i}/run`, `/api/v1/run/f${i}`, `/flows/f${i}/stream`, `/api/v1/run/advanced/f${i}`][i % 4]!;
    for (let i = 0; i < n; i++) {
      const res = await fast(`/projects/p1/apps/a1/routes/r1${runPath(i)}?q=${i}`, i % 2 ? { method: "POST", body: "{}", headers: { "content-type": "application/json" } } : {});
      assert.equal(res.status, 200);
      assert.equal(res.headers.server, undefined, "no Server header of nginx's own");
      ids.push(String(res.headers["x-request-id"]));
    }
    const special = [
      await fast("/projects/p1/apps/a1/routes/r1/flows/x/run", { headers: { "x-test-revision": "7" } }),
      await fast("/projects/p1/apps/a1/routes/r0/flows/x/run"),
      await fast("/projects/p1/apps/a1/routes/r1/err/run"),
      await fast("/projects/p1/apps/a1/routes/down/flows/x/run"),
      await fast("/projects/p1/apps/a1/routes/r1/twice/run"),
      await fast("/projects/p1/apps/a1/routes/r1/underscore/run"),
    ];
    assert.deepEqual(special.map((r) => r.status), [200, 200, 422, 503, 200, 200]);
    assert.equal(special[3]!.headers.server, undefined, "nginx's own error answer: no Server header");
    // Handed to the workers: no line.
    for (const path of ["/projects/p1/apps/a1/routes/r1/x", "/projects/p1/apps/a1/routes/r9/x", "/api/v1/projects"]) {
      const res = await call(nginx.port, path, { headers: { "x-access-key": path.includes("r1") ? "fp_wrong" : key } });
      assert.equal(res.headers["x-served-by"], "workers");
    }
    await until(() => calls.length >= n + special.length, 5_000);
    await new Promise((r) => setTimeout(r, 500)); // and nothing more comes
    assert.equal(calls.length, n + special.length, "one line per call nginx served, none for the workers'");
    assert.deepEqual(counts, [], "no call here was counted");
    assert.deepEqual(other, [], "every line parses");
    const byId = new Map(calls.map((c) => [c.requestId, c]));
    for (let i = 0; i < n; i++) {
      const c = byId.get(ids[i]!);
      assert.ok(c, `call ${i} logged`);
      assert.deepEqual({ ...c, latencyMs: 0 }, {
        requestId: ids[i], routeId: "r1", userId: "u1", keyId: "k1", method: i % 2 ? "POST" : "GET", path: runPath(i), status: 200, latencyMs: 0, revision: 3, errorCode: undefined,
      });
      assert.ok(c.latencyMs >= 0 && c.latencyMs < 5_000);
    }
    const [rev7, none, err, down, twice, underscore] = special.map((r) => byId.get(String(r.headers["x-request-id"])));
    assert.equal(rev7?.revision, 7, "the revision on the answer: the replica's own");
    assert.equal(none?.revision, null, "a route without a revision");
    assert.deepEqual([err?.status, err?.errorCode], [422, "bad input/é"], "the answer's x-flowplane-error, decoded");
    assert.deepEqual([down?.routeId, down?.path, down?.status, down?.errorCode, down?.revision], ["down", "/flows/x/run", 503, "unavailable", 1], "nginx's own error answer");
    assert.deepEqual([twice?.status, twice?.errorCode], [200, "second"], "the last of two x-flowplane-error headers (HAProxy's), on a 200 too");
    assert.deepEqual([underscore?.status, underscore?.errorCode], [200, undefined], "an x_flowplane_error header is not the error code");
  });

  it("frames a line of any length: one past 1,000 bytes, and one as long as program() lets a caller's ids make it, arrive whole, and so do the lines after them", async () => {
    // Callers named at length (program() takes ids of up to 1,023 characters): lines of about 1,200 and 2,700 bytes.
    const long = { key: "fp_" + "l".repeat(43), userId: `u${"x".repeat(1_000)}`, keyId: "k2" };
    const longest = { key: "fp_" + "m".repeat(43), userId: `u${"y".repeat(1_022)}`, keyId: `k${"z".repeat(1_022)}` };
    assert.deepEqual((await nginx.program.send({ keys: { set: [long, longest].map((c) => ({ key: `${sha256hex(c.key)}/p1`, userId: c.userId, keyId: c.keyId, ttlMs: 4_000 })) } })).errors, []);
    await renewKey();
    calls.length = 0;
    const ids: string[] = [];
    for (const [k, path] of [[long.key, "/flows/a/run"], [longest.key, `/flows/${"b".repeat(400)}/run`], [key, "/flows/c/run"], [long.key, `/flows/${"d".repeat(400)}/run`]] as const) {
      const res = await call(nginx.port, `/projects/p1/apps/a1/routes/r1${path}`, { headers: { "x-access-key": k } });
      assert.equal(res.status, 200);
      ids.push(String(res.headers["x-request-id"]));
    }
    await until(() => calls.length >= 4, 5_000);
    await new Promise((r) => setTimeout(r, 500));
    const seen = new Map(calls.map((c) => [c.requestId, [c.userId?.length, c.keyId?.length, c.path.length]]));
    assert.deepEqual(ids.map((id) => seen.get(id)), [[1_001, 2, 12], [1_023, 1_023, 411], [2, 2, 12], [1_001, 2, 411]], "each line whole");
    assert.equal(calls.length, 4);
    assert.deepEqual(other, [], "every line parses");
  });

  it("counts the calls that cannot be runs, per route, caller, revision, status and ms: no line each, every call counted once", async () => {
    await renewKey();
    calls.length = 0;
    counts.length = 0;
    const asked: [string, Record<string, string>, number][] = [
      // [path, headers, how many]
      ["/projects/p1/apps/a1/routes/r1/flows", {}, 30],
      ["/projects/p1/apps/a1/routes/r1/flows/f1/info", { "x-test-revision": "7" }, 5],
      ["/projects/p1/apps/a1/routes/r0/page", {}, 4],
      ["/projects/p1/apps/a1/routes/r1/err", {}, 3],
      ["/projects/p1/apps/a1/routes/down/flows", {}, 2],
      ["/projects/p1/apps/a1/routes/r1/runner/x", {}, 1], // holds "/run": a line of its own, though no run
    ];
    const statuses: number[] = [];
    for (const [path, headers, k] of asked) for (let i = 0; i < k; i++) statuses.push((await fast(`${path}?i=${i}`, { headers })).status);
    assert.deepEqual([...new Set(statuses)].sort(), [200, 422, 503]);
    await until(() => counts.reduce((a, c) => a + c.calls, 0) >= 44 && calls.length >= 1, 5_000);
    await new Promise((r) => setTimeout(r, 500)); // and nothing more comes
    assert.deepEqual(other, []);
    assert.deepEqual(calls.map((c) => c.path), ["/runner/x"], "only the path that may be a run has a line");
    // Each count is one (route, caller, revision, status, ms); summed over ms, the calls asked for.
    const sum = new Map<string, number>();
    for (const c of counts) {
      assert.deepEqual([c.userId, c.keyId], ["u1", "k1"]);
      assert.ok(Number.isInteger(c.latencyMs) && c.latencyMs >= 0 && c.latencyMs < 5_000);
      const k = `${c.routeId} ${c.revision} ${c.status}`;
      sum.set(k, (sum.get(k) ?? 0) + c.calls);
    }
    assert.deepEqual(Object.fromEntries(sum), { "r1 3 200": 30, "r1 7 200": 5, "r0 null 200": 4, "r1 3 422": 3, "down 1 503": 2 });
    // Counted, not a line each: the 30 alike calls are fewer counts (one per worker, write and ms).
    const flows = counts.filter((c) => c.routeId === "r1" && c.revision === 3 && c.status === 200);
    assert.ok(flows.length < 30, `30 calls in ${flows.length} counts`);
  });

  it("keeps serving while the sink is down, and sends what it buffered once the sink is back", async () => {
    await renewKey();
    calls.length = 0;
    const path = "/projects/p1/apps/a1/routes/r1/flows/x/run";
    const ids = async (k: number) => {
      const out: string[] = [];
      for (let i = 0; i < k; i++) {
        const res = await fast(path);
        assert.equal(res.status, 200, "served whatever the sink");
        out.push(String(res.headers["x-request-id"]));
      }
      return out;
    };
    const before = await ids(10);
    await until(() => calls.length >= 10, 5_000);
    await relay.down();
    const whileDown = await ids(30);
    await new Promise((r) => setTimeout(r, 700)); // a few failed connections: the backoff grows
    const alsoDown = await ids(10);
    await relay.up();
    const afterUp = await ids(10);
    await until(() => calls.length >= 60, 10_000);
    const got = new Set(calls.map((c) => c.requestId));
    for (const id of [...before, ...afterUp]) assert.ok(got.has(id), `${id} logged`);
    // Lines made while the sink was down waited in the buffer (well under its cap) and went once it was back.
    const lost = [...whileDown, ...alsoDown].filter((id) => !got.has(id));
    assert.deepEqual(lost, []);
    assert.equal(calls.length, 60, "each line once");
  });
});

describe("nginx's counts of calls, bounded", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  it("past the counts a worker may keep, a call that is not a run gets its own line: none is lost", async () => {
    const calls: FastCall[] = [];
    const counts: FastCount[] = [];
    const sink = await LogSink.start({ log: memoryLogger().log, onLine: (l) => {
      const c = parseFastLine(l);
      if (c) return void calls.push(c);
      const n = parseFastCount(l);
      if (n) counts.push(n);
    } });
    const replica = await startReplica((req, res) => {
      if (req.url?.startsWith("/err")) res.statusCode = 422;
      res.end("ok");
    });
    // One worker keeping one count: a second (route, caller, revision, status, ms) before the next write is a line.
    // The sink behind a relay that is down while the calls are made: the counts wait unwritten, so
    // the cap is reached whatever the machine's speed. (With the sink up, the writer, woken by the
    // full set, could empty it between two calls every time: no line, as it once did in CI.)
    const relay = new Relay(await freePort(), sink.port);
    const nginx = await startTestNginx({ workers: 1, logSink: { port: relay.port, token: sink.token }, aggCap: 1 });
    let relayUp = false;
    try {
      const key = "fp_" + "c".repeat(43);
      await programR1(nginx, replica.address, key);
      const n = 40;
      for (let i = 0; i < n; i++) {
        const res = await call(nginx.port, `/projects/p1/apps/a1/routes/r1/${i % 2 ? "err" : "flows"}`, { headers: { "x-access-key": key } });
        assert.equal(res.status, i % 2 ? 422 : 200);
      }
      await relay.up();
      relayUp = true;
      const total = () => calls.length + counts.reduce((a, c) => a + c.calls, 0);
      // The sender's next try after its back-off (5 s at most).
      await until(() => total() >= n, 15_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(total(), n, "every call in a line or a count, once");
      assert.ok(calls.length > 0, "calls past the cap have lines");
      assert.ok(counts.length > 0, "calls within it are counted");
      for (const c of calls) assert.deepEqual([c.routeId, c.userId, c.keyId, c.revision, c.method], ["r1", "u1", "k1", 2, "GET"]);
      // Each write empties the counts (a full set wakes the writer): a call after it is counted
      // again, not given a line for good. Calls 300 ms apart: each finds the counts written.
      const lines = calls.length;
      for (let i = 0; i < 10; i++) {
        assert.equal((await call(nginx.port, "/projects/p1/apps/a1/routes/r1/flows", { headers: { "x-access-key": key } })).status, 200);
        await new Promise((r) => setTimeout(r, 300));
      }
      await until(() => total() >= n + 10, 5_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(total(), n + 10);
      assert.equal(calls.length - lines, 0, "after each write, the next call is counted");
    } finally {
      await nginx.stop();
      if (relayUp) await relay.down();
      await replica.close();
      await sink.close();
    }
  });
});

describe("nginx's log with its sink unreachable", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  it("serves on past a full batch of lines and a full set of counts, the sender backing off (not spinning)", async () => {
    // Nothing listens on the sink's port: every connection is refused.
    const nginx = await startTestNginx({ workers: 1, logSink: { port: await freePort(), token: "t0" }, aggCap: 3 });
    const replica = await startReplica((req, res) => { res.statusCode = req.url?.startsWith("/e") ? 400 + Number(req.url.slice(2, 4)) : 200; res.end("ok"); });
    try {
      const key = "fp_" + "d".repeat(43);
      await programR1(nginx, replica.address, key);
      // Past LOG_BATCH (500) lines of runs, and past the cap of counts (4 statuses, cap 3).
      const paths = [...Array.from({ length: 520 }, (_, i) => `/flows/f${i}/run`), "/e00", "/e01", "/e02", "/e03", "/page"];
      for (const path of paths) {
        const res = await call(nginx.port, `/projects/p1/apps/a1/routes/r1${path}`, { headers: { "x-access-key": key } });
        assert.equal(res.headers["x-served-by"], undefined, `${path}: nginx served it`);
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await call(nginx.port, "/projects/p1/apps/a1/routes/r1/page", { headers: { "x-access-key": key } })).status, 200, "still serving");
    } finally {
      await nginx.stop();
      await replica.close();
    }
  });
});

describe("nginx's log when nginx stops gracefully", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  it("a call still under way at the stop is answered and its line still sent", async () => {
    const calls: FastCall[] = [];
    const sink = await LogSink.start({ log: memoryLogger().log, onLine: (l) => { const c = parseFastLine(l); if (c) calls.push(c); } });
    const replica = await startReplica((req, res) => { setTimeout(() => res.end("late"), req.url?.startsWith("/slow") ? 1_000 : 0); });
    const nginx = await startTestNginx({ workers: 1, logSink: { port: sink.port, token: sink.token } });
    try {
      const key = "fp_" + "s".repeat(43);
      await programR1(nginx, replica.address, key);
      // A line first, so the sender has its connection; then a slow run, and the stop during it.
      assert.equal((await call(nginx.port, "/projects/p1/apps/a1/routes/r1/flows/f/run", { headers: { "x-access-key": key } })).status, 200);
      await until(() => calls.length >= 1, 5_000);
      const slow = call(nginx.port, "/projects/p1/apps/a1/routes/r1/slow/run", { headers: { "x-access-key": key } });
      await new Promise((r) => setTimeout(r, 300));
      const stopped = nginx.child.stop();
      const res = await slow;
      assert.equal(res.status, 200, "answered through the stop");
      await stopped;
      await until(() => calls.length >= 2, 3_000);
      assert.deepEqual(calls.map((c) => c.path), ["/flows/f/run", "/slow/run"], "the slow call's line sent before the worker exited");
    } finally {
      await nginx.stop();
      await replica.close();
      await sink.close();
    }
  });
});
