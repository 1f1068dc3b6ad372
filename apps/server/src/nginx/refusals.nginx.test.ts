import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { clientErrorAnswer } from "../http/client-errors.js";
import { call, closedAddress, routeEntry, sha256hex, SKIP_WITHOUT_NGINX, startReplica, startTestNginx, type TestNginx, type TestServer } from "./test-nginx.js";

interface Raw { status: number; headers: Map<string, string[]>; body: string }

/** Writes `chunks` (a pause between them) on a connection of its own and reads until nginx closes it. */
function raw(port: number, chunks: string[], pauseMs = 0): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    s.on("data", (c: Buffer) => { got += c.toString("latin1"); });
    s.on("error", reject);
    s.on("close", () => {
      const [head = "", body = ""] = got.split(/\r\n\r\n(.*)/s);
      const [line = "", ...lines] = head.split("\r\n");
      const headers = new Map<string, string[]>();
      for (const l of lines) {
        const i = l.indexOf(":");
        const name = l.slice(0, i).toLowerCase();
        headers.set(name, [...headers.get(name) ?? [], l.slice(i + 1).trim()]);
      }
      resolve({ status: Number(line.split(" ")[1]), headers, body });
    });
    void (async () => {
      for (const c of chunks) {
        s.write(c);
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
  });
}

/** What the workers answer for the same refusal (http/client-errors.ts): status, x-flowplane-error, body. */
function workers(code: string): { status: number; error: string; body: string } {
  const a = clientErrorAnswer(Object.assign(new Error(code), { code }));
  return { status: Number(a.split(" ")[1]), error: /x-flowplane-error: (\S+)/.exec(a)![1]!, body: a.slice(a.indexOf("\r\n\r\n") + 4) };
}

/** nginx's own refusals, answered as the workers answer them (config.ts REFUSALS, lua.ts refuse). */
describe("nginx's refusals in the workers' shape", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let nginx: TestNginx;
  let replica: TestServer;
  const key = "fp_" + "k".repeat(43);

  before(async () => {
    replica = await startReplica();
    nginx = await startTestNginx({ bodyWaitS: 1 });
    const res = await nginx.program.send({
      routes: { set: [routeEntry("r1", [(replica as TestServer & { address: string }).address]), routeEntry("down", [await closedAddress()])] },
      keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ttlMs: 4_000 }] },
    });
    assert.deepEqual(res.errors, []);
  });
  after(async () => {
    await nginx?.stop();
    await replica?.close();
  });

  const malformed = workers("HPE_INVALID_HEADER_TOKEN");
  const tooLarge = workers("HPE_HEADER_OVERFLOW");
  const headers = (n: number, size: number) => Array.from({ length: n }, (_, i) => `x-h${i}: ${"a".repeat(size)}\r\n`).join("");

  it("answers each refusal with the workers' status, JSON body and code, no Server or Date, and closes", async () => {
    const cases: [string, string[], ReturnType<typeof workers>][] = [
      ["a repeated Host", ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"], malformed],
      ["a repeated Content-Length", ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na"], malformed],
      ["a request line that is not HTTP", ["garbage\r\n\r\n"], malformed],
      ["a request line past 16 KiB", [`GET /${"a".repeat(17_000)} HTTP/1.1\r\nHost: a\r\n\r\n`], tooLarge],
      ["a header past 16 KiB", [`GET / HTTP/1.1\r\nHost: a\r\nx-big: ${"a".repeat(17_000)}\r\n\r\n`], tooLarge],
      ["a head past 17 KiB in small headers", [`GET / HTTP/1.1\r\nHost: a\r\n${headers(20, 1_000)}\r\n`], tooLarge],
    ];
    for (const [what, chunks, want] of cases) {
      const res = await raw(nginx.port, chunks);
      assert.equal(res.status, want.status, what);
      assert.deepEqual(res.headers.get("content-type"), ["application/json; charset=utf-8"], what);
      assert.deepEqual(res.headers.get("x-flowplane-error"), [want.error], what);
      assert.deepEqual(res.headers.get("connection"), ["close"], what);
      assert.equal(res.headers.get("server"), undefined, `${what}: no Server header`);
      assert.equal(res.headers.get("date"), undefined, `${what}: no Date (the workers' refusal has none)`);
      assert.equal(res.body, want.body, what);
      assert.deepEqual(res.headers.get("content-length"), [String(Buffer.byteLength(want.body))], what);
    }
  });

  it("answers what nginx refuses before a location is chosen (TRACE, an unknown transfer coding, HTTP/2.0 on this port) without a Server header", async () => {
    // Listed differences from the workers (config.ts): their statuses are nginx's 405, 501 and 505.
    for (const [what, head, status] of [
      ["TRACE", `TRACE /projects/p1/apps/a1/routes/r1/x HTTP/1.1\r\nHost: a\r\nx-access-key: ${key}\r\n\r\n`, 405],
      ["Transfer-Encoding: gzip, chunked", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501],
      ["HTTP/2.0", "GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    ] as const) {
      const res = await raw(nginx.port, [head]);
      assert.equal(res.status, status, what);
      assert.equal(res.headers.get("server"), undefined, `${what}: no Server header`);
    }
  });

  it("closes a fast-path body slower than the wait without an answer (where the workers answer 408: nginx never writes its 408)", async () => {
    const started = Date.now();
    const res = await raw(nginx.port, [`POST /projects/p1/apps/a1/routes/r1/x HTTP/1.1\r\nHost: a\r\nx-access-key: ${key}\r\nContent-Length: 10\r\n\r\nab`]);
    assert.ok(Number.isNaN(res.status), "no answer at all");
    assert.ok(Date.now() - started >= 900, "after the wait (1 s here)");
  });

  it("takes a head the workers take (16 KiB), and leaves their answers and paths alone", async () => {
    nginx.workers.seen.length = 0;
    const res = await raw(nginx.port, [`GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${headers(15, 1_000)}\r\n`]);
    assert.equal(res.status, 200, "a 15 KiB head reaches the workers");
    assert.deepEqual(res.headers.get("x-served-by"), ["workers"]);
    assert.equal(res.headers.get("server"), undefined, "the workers' answer, without a Server header of nginx's");
    // The refusals' own location is no path a client can ask for: nginx resolves the client's `..`.
    const odd = await call(nginx.port, "/fp-refused/../400");
    assert.deepEqual([odd.status, odd.headers["x-served-by"]], [200, "workers"]);
    assert.equal(nginx.workers.seen.at(-1)?.url, "/fp-refused/../400");
    // Nor is the location that declares the fast path's variables (config.ts).
    const declared = await call(nginx.port, "/fp-variables/../declared");
    assert.deepEqual([declared.status, declared.headers["x-served-by"]], [200, "workers"]);
    assert.equal(nginx.workers.seen.at(-1)?.url, "/fp-variables/../declared");
  });

  it("writes its upstream failures in flowplane's shape without a Server header", async () => {
    const res = await call(nginx.port, "/projects/p1/apps/a1/routes/down/x", { headers: { "x-access-key": key } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.server, undefined);
    assert.equal(res.headers["x-flowplane-error"], "unavailable");
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, "unavailable");
  });
});
