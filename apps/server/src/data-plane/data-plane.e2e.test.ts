import assert from "node:assert/strict";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request as httpRequest, Agent as HttpAgent } from "node:http";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startServer, waitFor, type ServerProcess } from "@flowplane/testkit";

/**
 * The data plane as the server runs it: two gateway workers (FLOWPLANE_GATEWAY_WORKERS=2) in
 * front of the control plane. Who owns which connection, the metrics summed over the workers,
 * a worker's crash (restarted; the control plane lives on) and the control plane's (no worker
 * outlives it). Real processes, checked by pid.
 */
const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
/** Running (a zombie waiting for its reaper counts as gone: it holds no socket and runs nothing). */
const alive = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
};
/** The server's data-plane workers: its node children running the worker script. */
const workersOf = (pid: number): number[] => childrenOf(pid).filter((c) => {
  try {
    return readFileSync(`/proc/${c}/cmdline`, "utf8").includes("data-plane/worker.js");
  } catch {
    return false;
  }
});

/** The pid of the flowplane server running on `dataDir` (its environment names it), if any. */
const serverPidOf = (dataDir: string): number | undefined => {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!readFileSync(`/proc/${e}/cmdline`, "utf8").includes("server/dist/main.js")) continue;
      if (readFileSync(`/proc/${e}/environ`, "utf8").split("\0").includes(`FLOWPLANE_DATA_DIR=${dataDir}`)) return Number(e);
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return undefined;
};
/** How many TCP sockets in LISTEN state the process holds (its fds matched against /proc/net/tcp{,6}). */
const listeningSockets = (pid: number): number => {
  try {
    const inodes = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]; } catch { return undefined; } }).filter(Boolean));
    const listening = ["tcp", "tcp6"].flatMap((f) => readFileSync(`/proc/${pid}/net/${f}`, "utf8").split("\n").slice(1))
      .map((l) => l.trim().split(/\s+/)).filter((c) => c[3] === "0A").map((c) => c[9]);
    return listening.filter((i) => inodes.has(i)).length;
  } catch {
    return 0;
  }
};

/** Requests over ONE keep-alive connection (node:http agent with a single socket). */
function sameConnection(): { get(url: string, headers?: Record<string, string>, method?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }>; agent: HttpAgent } {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  return {
    agent,
    get: (url, headers = {}, method = "GET") => new Promise((resolve, reject) => {
      const req = httpRequest(url, { agent, headers, method }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on("error", reject);
      req.end();
    }),
  };
}

const CORS_ORIGIN = "http://localhost:3000";

describe("data plane: gateway workers in front of the control plane (e2e)", { timeout: 180_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-dataplane-"));
    // CORS on for one origin: the setting must reach both workers and the control plane's own gateway.
    server = await startServer(dir, { FLOWPLANE_GATEWAY_WORKERS: "2", FLOWPLANE_LOG_LEVEL: "info", FLOWPLANE_GATEWAY_CORS_ORIGINS: CORS_ORIGIN });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
  });
  after(async () => {
    await server?.kill().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  test("two workers run, and the banner says so", () => {
    assert.equal(workersOf(server.child.pid!).length, 2);
    assert.match(server.out(), /gateway: .*\(2 worker processes\)/);
  });

  test("API, web UI and gateway answer on the public port; the gateway's answers come from a worker", async () => {
    const me = await fetch(`${server.url}/api/v1/me`, { headers: { "x-access-key": admin } });
    assert.equal(me.status, 200);
    const ui = await fetch(`${server.url}/`, { redirect: "manual" });
    assert.ok([302, 503].includes(ui.status), `the web UI's answer (302 to its home; 503 when not built): ${ui.status}`);
    const gw = await fetch(`${server.url}/projects/p/apps/a/routes/nope/flows`, { headers: { "x-access-key": admin } });
    assert.equal(gw.status, 404);
    assert.equal(((await gw.json()) as { error: { code: string } }).error.code, "not_found");
    const nokey = await fetch(`${server.url}/projects/p/apps/a/routes/nope/flows`);
    assert.equal(nokey.status, 401);
  });

  test("one connection used for the API, then the gateway, then the API again: every answer is right", async () => {
    for (const first of ["api", "gateway"] as const) {
      const c = sameConnection();
      const api = () => c.get(`${server.url}/api/v1/me`, { "x-access-key": admin });
      const gw = () => c.get(`${server.url}/projects/p/apps/a/routes/nope`, { "x-access-key": admin });
      const order = first === "api" ? [api, gw, api, gw] : [gw, api, gw, api];
      const statuses = [];
      for (const call of order) statuses.push((await call()).status);
      assert.deepEqual(statuses, first === "api" ? [200, 404, 200, 404] : [404, 200, 404, 200], `first: ${first}`);
      c.agent.destroy();
    }
  });

  test("FLOWPLANE_GATEWAY_CORS_ORIGINS reaches every worker and the control plane's own gateway; the API's paths are untouched", async () => {
    const preflight = { origin: CORS_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "x-api-key", connection: "close" };
    // Fresh connections, so the kernel spreads them over both workers: each answers the preflight itself.
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${server.url}/projects/p/apps/a/routes/r/api/v1/run/f`, { method: "OPTIONS", headers: preflight });
      assert.equal(res.status, 204, `preflight ${i}`);
      assert.equal(res.headers.get("access-control-allow-origin"), CORS_ORIGIN);
      const nokey = await fetch(`${server.url}/projects/p/apps/a/routes/r/flows`, { headers: { origin: CORS_ORIGIN, connection: "close" } });
      assert.equal(nokey.status, 401);
      assert.match(nokey.headers.get("access-control-expose-headers") ?? "", /x-flowplane-run-id/);
    }
    // A gateway path on a connection the control plane kept (an API call first): its own gateway answers, the same way.
    const c = sameConnection();
    assert.equal((await c.get(`${server.url}/api/v1/me`, { "x-access-key": admin })).status, 200);
    const kept = await c.get(`${server.url}/projects/p/apps/a/routes/r/flows`, { ...preflight, connection: "keep-alive" }, "OPTIONS");
    assert.equal(kept.status, 204);
    assert.equal(kept.headers["access-control-allow-origin"], CORS_ORIGIN);
    c.agent.destroy();
    // The API and /metrics answer no CORS: only route paths do.
    const api = await fetch(`${server.url}/api/v1/me`, { headers: { "x-access-key": admin, origin: CORS_ORIGIN } });
    assert.equal(api.headers.get("access-control-allow-origin"), null);
    const metrics = await fetch(`${server.privateUrl}/metrics`, { headers: { "x-access-key": admin, origin: CORS_ORIGIN } });
    assert.equal(metrics.headers.get("access-control-allow-origin"), null);
  });

  test("refusal before the body holds in a worker and in the control plane: 401 on the headers, no 100 Continue", async () => {
    const port = new URL(server.url).port;
    for (const path of ["/projects/p/apps/a/routes/r/run", "/api/v1/bundles"]) {
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect(Number(port), "127.0.0.1", () => {
          s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${9 * 1024 * 1024}\r\nexpect: 100-continue\r\n\r\n`);
        });
        let text = "";
        s.on("data", (b: Buffer) => { text += b.toString("latin1"); });
        s.once("close", () => resolve(text));
        s.once("error", reject);
        setTimeout(() => { s.destroy(); reject(new Error(`no close within 10 s; got ${JSON.stringify(text)}`)); }, 10_000).unref();
      });
      assert.match(answer, /^HTTP\/1\.1 401 /, path);
      assert.doesNotMatch(answer, /100 Continue/, path);
      assert.match(answer, /\r\nconnection: close\r\n/i, path);
    }
  });

  test("/metrics on the private listener sums the workers' gateway counters", async () => {
    const count = async () => {
      const text = await (await fetch(`${server.privateUrl}/metrics`, { headers: { "x-access-key": admin } })).text();
      const m = /flowplane_gateway_request_duration_seconds_count\{route_id="unresolved",kind="unresolved",status_class="4xx"\} (\d+)/.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    // Fresh connections, so the kernel spreads them over both workers.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${server.url}/projects/p/apps/a/routes/nope`, { headers: { connection: "close" } });
      assert.equal(res.status, 401);
    }
    await waitFor(async () => (await count()) >= before + 20, { timeoutMs: 10_000, intervalMs: 100, message: "20 more 4xx in the summed metrics" });
  });

  test("the workers' access lines reach the server's output: ids and status, never the key", async () => {
    const res = await fetch(`${server.url}/projects/p/apps/a/routes/r-logged/flows?x-api-key=${admin}`, { headers: { "x-request-id": "dp-log-check" } });
    assert.equal(res.status, 404);
    const id = res.headers.get("x-request-id")!;
    await waitFor(() => server.out().includes(`"requestId":"${id}"`), { timeoutMs: 5_000, message: "the access line" });
    const line = server.out().split("\n").find((l) => l.includes(`"requestId":"${id}"`))!;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.equal(parsed.correlationId, "dp-log-check", "the caller's id, beside the gateway's");
    assert.deepEqual([parsed.msg, parsed.status, parsed.routeId, parsed.method], ["gateway request", 404, "r-logged", "GET"]);
    assert.equal(typeof parsed.worker, "number");
    assert.ok(!server.out().includes(admin), "the key is in no line");
  });

  test("a worker that crashes is replaced; the control plane and the other worker keep serving", async () => {
    const [victim, other] = workersOf(server.child.pid!);
    process.kill(victim!, "SIGKILL");
    await waitFor(() => { const w = workersOf(server.child.pid!); return w.length === 2 && !w.includes(victim!); }, { timeoutMs: 20_000, intervalMs: 50, message: "a new worker in place of the killed one" });
    assert.ok(workersOf(server.child.pid!).includes(other!));
    assert.equal(server.child.exitCode, null, "the control plane is still running");
    assert.equal((await fetch(`${server.url}/api/v1/me`, { headers: { "x-access-key": admin } })).status, 200);
    await waitFor(async () => (await fetch(`${server.url}/projects/p/apps/a/routes/nope`)).status === 401, { timeoutMs: 10_000, message: "the gateway answers" });
  });

  test("a control plane that does not answer: a key or route lookup is a 504 JSON error after its deadline, not a hung request", async () => {
    const pid = server.child.pid!;
    // A fresh key and route: both lookups must go to the control plane, which is stopped.
    const url = `${server.url}/projects/p/apps/a/routes/r-${Date.now()}/flows`;
    process.kill(pid, "SIGSTOP");
    try {
      const started = Date.now();
      // A connection of its own (fetch could reuse a kept-alive API connection, which the stopped control plane serves).
      const c = sameConnection();
      const res = await c.get(url, { "x-access-key": `fp_unknown_${Date.now()}` });
      c.agent.destroy();
      assert.equal(res.status, 504);
      const body = JSON.parse(res.body) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "gateway_timeout");
      assert.match(body.error.message, /control plane did not answer within 5 s/);
      assert.ok(Date.now() - started >= 4_500, "after the lookup's deadline");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    assert.equal((await fetch(`${server.url}/api/v1/me`, { headers: { "x-access-key": admin } })).status, 200, "the control plane serves again");
  });

  test("the bad-key limiter holds 1/N per worker: on one connection (one worker) bad keys are refused after 10, not 20 (burst 20 / 2 workers)", async () => {
    const c = sameConnection();
    let refusedAt = -1;
    let refused: { status: number; headers: Record<string, unknown>; body: string } | undefined;
    for (let i = 0; i < 20 && refusedAt < 0; i++) {
      const r = await c.get(`${server.url}/projects/p/apps/a/routes/nope/flows`, { "x-access-key": `fp_bad_${i}` });
      if (r.status === 429) [refusedAt, refused] = [i, r];
      else assert.equal(r.status, 401);
    }
    c.agent.destroy();
    // 10 failures empty this worker's bucket; it refills at 1/s, so a slow machine may let one or two more through.
    assert.ok(refusedAt >= 10 && refusedAt <= 13, `first 429 after ${refusedAt} bad keys`);
    assert.equal(refused!.headers["ratelimit-policy"], '"failed-auth";q=10;w=10');
    assert.equal((JSON.parse(refused!.body) as { error: { code: string } }).error.code, "rate_limited");
  });

  test("an API call a worker relays (kept connection) is charged to its client's address, not to the worker's loopback; relay headers a client sends are dropped", async () => {
    /** One connection from `from`, these requests written at once; the statuses answered, in order. */
    const raw = (from: string, text: string) => new Promise<string[]>((resolve) => {
      const c = connect({ port: server.port, host: "127.0.0.1", localAddress: from }, () => c.write(text));
      let out = "";
      c.on("data", (d: Buffer) => { out += d.toString("latin1"); });
      c.setTimeout(5_000, () => c.destroy());
      const done = () => resolve([...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]!));
      c.on("close", done);
      c.on("error", done);
    });
    const badKey = `fp_${"B".repeat(43)}`; // key-shaped: looked up, then charged
    const me = (extra = "") => `GET /api/v1/me HTTP/1.1\r\nHost: x\r\nx-access-key: ${badKey}\r\n${extra}Connection: close\r\n\r\n`;
    // A gateway call first keeps the connection in a worker; the API call after it is relayed.
    const relayed = (from: string, extra?: string) => raw(from, `GET /projects/p/apps/a/routes/r/flows HTTP/1.1\r\nHost: x\r\n\r\n${me(extra)}`);
    // Until its budget (20 at once, one more a second) has run out: two refusals in a row, so a
    // slow machine's refill cannot hand it a token back before the direct call below.
    const attacker: (string | undefined)[] = [];
    while (attacker.length < 40 && !(attacker.at(-1) === "429" && attacker.at(-2) === "429")) attacker.push((await relayed("127.0.0.9"))[1]);
    assert.ok(attacker.includes("429"), `its budget (20 at once) runs out: ${attacker.join(",")}`);
    // The attacker's own address is the one charged: direct API connections from it are refused
    // too, but for what the refill (2/s) can have handed back since its budget ran out (on a
    // loaded machine a single direct call came after a refill and got its 401). Charged to the
    // worker's loopback instead, the address would still hold its 20 and all five would be 401.
    const emptied = performance.now();
    const direct: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) direct.push((await raw("127.0.0.9", me()))[0]);
    const refilled = Math.floor(((performance.now() - emptied) / 1000) * 2) + 1;
    assert.ok(direct.includes("429") && direct.filter((s) => s === "401").length <= refilled, `direct calls from the charged address: ${direct.join(",")} (at most ${refilled} refilled)`);
    // Another client relayed the same way keeps its own budget, even naming the attacker's address in the relay headers.
    const other = await relayed("127.0.0.10", "x-flowplane-relay-client: 127.0.0.9\r\nx-flowplane-relay-secret: a-guess\r\n");
    assert.equal(other[1], "401", `another address is not refused: ${other.join(",")}`);
  });

  test("what the HTTP parser refuses is answered in the one error shape, on a worker (gateway path) and on the control plane (API path)", async () => {
    /**
     * One request written raw on a fresh connection: the last answer's status and JSON body (on
     * a gateway path Node may answer the headers first, here the gateway's 401 for no key, and
     * refuse the body after: the refusal is the last answer).
     */
    const raw = (text: string) => new Promise<{ status: string; body: string }>((resolve) => {
      const c = connect({ port: server.port, host: "127.0.0.1" }, () => c.write(text));
      let out = "";
      c.on("data", (d: Buffer) => { out += d.toString("latin1"); });
      c.setTimeout(5_000, () => c.destroy());
      const done = () => {
        const last = out.slice(out.lastIndexOf("HTTP/1.1 "));
        resolve({ status: /^HTTP\/1\.1 (\d{3})/.exec(last)?.[1] ?? "", body: last.slice(last.indexOf("\r\n\r\n") + 4) });
      };
      c.on("close", done);
      c.on("error", done);
    });
    for (const path of ["/projects/p/apps/a/routes/r/flows", "/api/v1/me"]) {
      const smuggle = await raw(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
      const badChunk = await raw(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`);
      const huge = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`);
      for (const [r, status, code] of [[smuggle, "400", "malformed_request"], [badChunk, "400", "malformed_request"], [huge, "431", "headers_too_large"]] as const) {
        assert.equal(r.status, status, `${path}: ${r.status} ${r.body}`);
        assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, code, `${path}: ${r.body}`);
      }
    }
    // CONNECT (a proxy's tunnel) reaches no route: a 405 in the same shape, where Node closed the connection unanswered.
    // Its target decides who answers: a host:port goes to the control plane, a gateway path stays on the worker.
    for (const target of ["127.0.0.1:9", "/projects/p/apps/a/routes/r/flows"]) {
      const tunnel = await raw(`CONNECT ${target} HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n`);
      assert.equal(tunnel.status, "405", `${target}: ${tunnel.body}`);
      assert.equal((JSON.parse(tunnel.body) as { error: { code: string } }).error.code, "method_not_allowed", target);
    }
  });

  test("a head whose lines end in a bare LF (or a lone CR) is answered 400 in the one error shape at once, on both listeners, gateway and API paths alike", async () => {
    /** `chunks` written 50 ms apart on a fresh connection: the status and JSON body answered, or "" if nothing came within 5 s. */
    const raw = (port: number, chunks: string[]) => new Promise<{ status: string; body: string; closed: boolean }>((resolve) => {
      let out = "";
      let closed = true;
      const c = connect({ port, host: "127.0.0.1" }, () => {
        let i = 0;
        const next = () => { if (i < chunks.length && !c.destroyed) c.write(chunks[i++]!, () => setTimeout(next, 50)); };
        next();
      });
      c.on("data", (d: Buffer) => { out += d.toString("latin1"); });
      // Closed by the server (an end, or a reset for the bytes it left unread), or by this timeout.
      c.setTimeout(5_000, () => { closed = false; c.destroy(); });
      const done = () => resolve({ status: /^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? "", body: out.slice(out.indexOf("\r\n\r\n") + 4), closed });
      c.on("close", done);
      c.on("error", () => {});
    });
    for (const [listener, port] of [["public", server.port], ["private", server.privatePort]] as const) {
      for (const path of ["/api/v1/me", "/projects/p/apps/a/routes/r/flows"]) {
        for (const [what, chunks] of [
          ["bare LF throughout", [`GET ${path} HTTP/1.1\nHost: x\nx-access-key: ${admin}\n\n`]],
          ["bare LF, in two packets", [`GET ${path} HTTP/1.1\n`, "Host: x\n\n"]],
          ["bare LF after the request line, CRLF after", [`GET ${path} HTTP/1.1\nHost: x\r\n\r\n`]],
          ["CRLF, then a bare LF in the headers", [`GET ${path} HTTP/1.1\r\nHost: x\na: b\r\n\r\n`]],
          ["lone CR line ends", [`GET ${path} HTTP/1.1\rHost: x\r\r`]],
        ] as const) {
          const r = await raw(port, [...chunks]);
          const where = `${listener} ${path}, ${what}`;
          assert.equal(r.status, "400", `${where}: ${r.status || "no answer within 5 s"} ${r.body}`);
          assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, "malformed_request", where);
          assert.ok(r.closed, `${where}: the connection was left open`);
        }
      }
    }
    // The same request with CRLF is served as ever.
    const ok = await raw(server.port, [`GET /api/v1/me HTTP/1.1\r\nHost: x\r\nx-access-key: ${admin}\r\nconnection: close\r\n\r\n`]);
    assert.equal(ok.status, "200", ok.body);
  });

  test("a control plane killed with SIGKILL takes its workers with it (no orphans)", async () => {
    const workers = workersOf(server.child.pid!);
    assert.equal(workers.length, 2);
    await server.kill();
    await waitFor(() => workers.every((pid) => !alive(pid)), { timeoutMs: 10_000, intervalMs: 50, message: `workers ${workers.join(", ")} gone` });
  });

  test("restarted on the same ports while something still holds one for a moment, it waits, and both workers listen on both", async () => {
    // What a restart right after a SIGKILL can meet: the old workers on their way out still hold the port.
    // The killed server's sockets may take a moment to be released, and on a busy machine another
    // process's outgoing connection can briefly own the port as its local end: take it as soon as it is free.
    const holder = createServer();
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const refused = (): void => resolve(false);
          holder.once("error", refused);
          holder.listen({ host: "127.0.0.1", port: server.port, exclusive: true }, () => {
            holder.off("error", refused);
            resolve(true);
          });
        }),
      { timeoutMs: 15_000, intervalMs: 100, message: `port ${server.port} free for the holder` },
    );
    const starting = startServer(dir, { FLOWPLANE_GATEWAY_WORKERS: "2", FLOWPLANE_LOG_LEVEL: "info" }, { port: server.port, privatePort: server.privatePort });
    // The holder lets go once the new control plane is at its data plane's start: it listens on
    // its loopback pass-through ports just before (serve.ts), so it has listening sockets of its own.
    await waitFor(() => serverPidOf(dir) !== undefined && listeningSockets(serverPidOf(dir)!) >= 2, { timeoutMs: 120_000, intervalMs: 50, message: "the new server at its listeners" });
    holder.close();
    server = await starting;
    // Both workers listen (a worker that failed its listen would have failed the start), and serve.
    assert.equal(workersOf(server.child.pid!).length, 2);
    assert.equal((await fetch(`${server.url}/api/v1/me`, { headers: { "x-access-key": admin } })).status, 200);
    const gw = await fetch(`${server.privateUrl}/projects/p/apps/a/routes/r/flows`);
    assert.equal(gw.status, 401, "the gateway answers on the private port");
  });
});
