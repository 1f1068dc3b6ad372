import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { ORIGIN_WIDE_ANSWER_HEADERS, REDIRECT_ANSWER_HEADERS } from "../gateway/headers.js";
import { CLIENT_ADDRESS_HEADER } from "../data-plane/client-header.js";
import { READMIT_AFTER_MS } from "../gateway/admission.js";
import { call, routeEntry, sha256hex, SKIP_WITHOUT_NGINX, startReplica, startTestNginx, type TestNginx, type TestServer } from "./test-nginx.js";

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * nginx's fast path against haproxy/config.ts's contract (answer-headers.test.ts and
 * fast-path.test.ts assert the same of HAProxy): a real nginx, programmed with one route and one
 * key, in front of a real node:http replica and fake workers on a Unix socket.
 */
describe("nginx's fast path: what the replica, the workers and the caller see", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let nginx: TestNginx;
  let replica: TestServer & { address: string };
  const key = "fp_" + "k".repeat(43);
  const prefix = "/projects/p1/apps/a1/routes/r1";

  before(async () => {
    // A hostile replica: state for the whole origin, redirects, its own CSP and run id; the
    // revision it names is the caller's `x-test-revision` (one or more), if any.
    replica = await startReplica((req, res) => {
      const rev = req.headers["x-test-revision"];
      res.setHeader("content-type", "text/html");
      for (const [h, v] of Object.entries({
        "set-cookie": "session=stolen; Path=/", "clear-site-data": "\"storage\"", "nel": "{}", "report-to": "{}", "reporting-endpoints": "x=\"https://c.example/\"",
        "alt-svc": "h2=\":443\"", "strict-transport-security": "max-age=1", "location": "https://elsewhere.example/", "refresh": "0; url=https://elsewhere.example/",
        "content-security-policy": "default-src *", "x-content-type-options": "sniff-away", "x-request-id": "the-replicas-own", "x-accel-redirect": "/projects/p1/apps/a1/routes/r2/",
      })) res.setHeader(h, v);
      if (rev !== undefined) res.setHeader("x-flowplane-revision", String(rev).split(";"));
      res.end("<p>hi</p>");
    });
    nginx = await startTestNginx();
    const res = await nginx.program.send({
      routes: { set: [routeEntry("r1", [replica.address], { revision: 3 }), routeEntry("r0", [replica.address], { revision: null })] },
      keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ttlMs: 4_000 }] },
    });
    assert.deepEqual(res.errors, []);
  });
  after(async () => {
    await nginx?.stop();
    await replica?.close();
  });

  const fast = (path: string, headers: Record<string, string | string[]> = {}, o: { method?: string; body?: string } = {}) =>
    call(nginx.port, path, { ...o, headers: { "x-access-key": key, ...headers } });

  it("hands the replica exactly the Node gateway's headers: the path under the route, forwarding, the secret and run id, no key or hop-by-hop header", async () => {
    const cases: [string, string][] = [["/page", "/page"], ["/flows/f1/run?stream=false", "/flows/f1/run?stream=false"], ["", "/"], ["/", "/"], ["/a/b/c", "/a/b/c"]];
    for (const [path, upstream] of cases) {
      replica.seen.length = 0;
      const res = await fast(prefix + path, {
        "x-forwarded-for": "10.0.0.9", "x-request-id": "the-callers-own", "x-flowplane-run-id": "forged", "x-flowplane-gateway-secret": "forged",
        "keep-alive": "timeout=5", "te": "trailers", "proxy-authorization": "Basic eA==", "proxy-connection": "keep-alive", "proxy-authenticate": "x",
        "x-custom": "kept", "x_under": "kept too", "connection": "keep-alive",
      });
      assert.equal(res.status, 200, `${path}: ${res.body}`);
      assert.equal(replica.seen.length, 1, `${path}: served by the replica`);
      const seen = replica.seen[0]!;
      assert.equal(seen.url, upstream, `${path}: the path under the route's prefix`);
      const rid = String(res.headers["x-request-id"]);
      assert.match(rid, RUN_ID, "the gateway's run id, UUID-shaped");
      assert.deepEqual(seen.headers, {
        "host": replica.address,
        "x-forwarded-for": "10.0.0.9, 127.0.0.1",
        "x-forwarded-proto": "http",
        "x-forwarded-host": `127.0.0.1:${nginx.port}`,
        "x-forwarded-prefix": prefix,
        "x-request-id": rid,
        "x-flowplane-run-id": rid,
        "x-flowplane-gateway-secret": "a-gateway-secret",
        "x-custom": "kept",
        "x_under": "kept too",
      }, path);
    }
    // No X-Forwarded-For from the client, or an empty one: the client's address alone.
    for (const xff of [undefined, ""]) {
      replica.seen.length = 0;
      await fast(`${prefix}/page`, xff === undefined ? {} : { "x-forwarded-for": xff });
      assert.equal(replica.seen[0]?.headers["x-forwarded-for"], "127.0.0.1", `x-forwarded-for ${JSON.stringify(xff)}`);
    }
  });

  it("hands the replica the path and query byte for byte; a path nginx would escape, and an empty query, are the workers'", async () => {
    // Raw bytes on the wire (node's client would refuse or escape them); node:http gives the
    // replica's req.url as latin1, one character a byte.
    const raw = async (target: Buffer) => {
      const head = Buffer.concat([Buffer.from("GET "), target, Buffer.from(` HTTP/1.1\r\nhost: h\r\nx-access-key: ${key}\r\nconnection: close\r\n\r\n`)]);
      // Written, not ended: a client that half-closes its side has left, for nginx.
      const s = connect(nginx.port, "127.0.0.1");
      s.write(head);
      const chunks: Buffer[] = [];
      for await (const c of s) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("latin1");
    };
    for (const under of ["/flows/f1+!$&'()*,;=:@~_/run", "/flows/f1/run?q=a&a=+b;c=/d?e", "?only=query", "//a//b?q=|^{}\"<>`\\&r=?"]) {
      replica.seen.length = 0;
      const answer = await raw(Buffer.from(prefix + under, "utf8"));
      assert.match(answer, /^HTTP\/1\.1 200 /, under);
      assert.equal(replica.seen[0]?.url, Buffer.from(under.startsWith("?") ? `/${under}` : under, "utf8").toString("latin1"), `${under}: as the client sent it`);
      assert.equal(replica.seen[0]?.headers["x-flowplane-gateway-secret"], "a-gateway-secret", `${under}: on the fast path`);
    }
    // nginx escapes the path it sends for a URI set in Lua (a byte past 127, '#', and, in 1.22,
    // '"', '<', '>', '\\', '^', '`', '{', '|' and '}', which lua-nginx-module's own table misses),
    // ends the query it sends at a "#", and sends no "?" without a query. These are the workers'.
    for (const target of ["/flows/é/run", "/x/#frag", "/flows/f1/run?q=a#f", "/page?", ...[..."\"<>\\^`{|}"].map((c) => `/flows/a${c}b/run`)]) {
      replica.seen.length = 0;
      const answer = await raw(Buffer.from(prefix + target, "utf8"));
      // The fake workers answer "workers"; a raw byte past 127 in the target, node:http's parser
      // refuses (400). Either way, none of the fast path's answer headers.
      assert.match(answer, target.includes("é") ? /^HTTP\/1\.1 400 / : /\r\n\r\nworkers$/, `${target}: the workers'`);
      assert.doesNotMatch(answer, /\r\nx-request-id:/i, `${target}: not the fast path's answer`);
      assert.equal(replica.seen.length, 0, target);
    }
  });

  it("gives each call its own run id, never the caller's", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add(String((await fast(`${prefix}/page`, { "x-request-id": "same" })).headers["x-request-id"]));
    assert.equal(ids.size, 20);
    for (const id of ids) assert.match(id, RUN_ID);
  });

  it("answers the caller without origin-wide state or redirects, sandboxed, unsniffed, with its run id and the revision", async () => {
    const res = await fast(`${prefix}/page`);
    assert.equal(res.status, 200);
    for (const name of ORIGIN_WIDE_ANSWER_HEADERS) assert.equal(res.headers[name], undefined, `${name}: state for the whole origin`);
    for (const name of REDIRECT_ANSWER_HEADERS) assert.equal(res.headers[name], undefined, `${name}: sends the caller elsewhere`);
    assert.equal(res.headers["content-security-policy"], "sandbox", "replaced, not added beside the replica's");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.match(String(res.headers["x-request-id"]), RUN_ID, "the gateway's run id, not the replica's");
    assert.equal(res.headers["x-accel-redirect"], "/projects/p1/apps/a1/routes/r2/", "passed as HAProxy passes it, never obeyed");
    assert.equal(res.body, "<p>hi</p>");
    // The revision: the replica's own when it names one plain revision number, else the route's (none when the route has none).
    const revision = async (route: string, given?: string) => (await fast(`/projects/p1/apps/a1/routes/${route}/x`, given === undefined ? {} : { "x-test-revision": given })).headers["x-flowplane-revision"];
    assert.equal(await revision("r1", "7"), "7");
    assert.equal(await revision("r1"), "3");
    assert.equal(await revision("r1", "abc"), "3");
    assert.equal(await revision("r1", "07"), "3");
    assert.equal(await revision("r1", "12345678901"), "3");
    // Two revision headers: HAProxy names the route's; nginx 1.22's $upstream_http_ reads the first
    // (1.23 joins them, which the map then refuses: the route's). A replica names its own revision
    // anyway, so this is parity, not a guard (config.ts lists it).
    assert.equal(await revision("r1", "7;8"), "7", "two revision headers: the first, on nginx 1.22");
    assert.equal(await revision("r0"), undefined);
    assert.equal(await revision("r0", "x"), undefined);
  });

  it("counts the calls it served itself (the programming socket's GET /stats), not those it gave the workers", async () => {
    const before = (await nginx.program.stats()).fast;
    for (let i = 0; i < 3; i++) assert.equal((await fast(`${prefix}/page`)).status, 200);
    for (const headers of [{ "x-access-key": "fp_wrong" }, { "x-flowplane-revision-target": "1" }] as Record<string, string>[]) assert.equal((await fast(`${prefix}/page`, headers)).body, "workers");
    assert.equal((await nginx.program.stats()).fast, before + 3);
  });

  it("sends to the workers, as the client sent it, with the client's address, every call it does not serve", async () => {
    const cases: [string, string, Record<string, string | string[]>][] = [
      ["a wrong key", `${prefix}/page`, { "x-access-key": "fp_wrong" }],
      ["no key", `${prefix}/page`, { "x-access-key": "" }],
      ["an unknown route", "/projects/p1/apps/a1/routes/r9/page", {}],
      ["another project's path", "/projects/p2/apps/a1/routes/r1/page", {}],
      ["another app's path", "/projects/p1/apps/a2/routes/r1/page", {}],
      ["the key twice", `${prefix}/page`, { "x-access-key": [key, key] }],
      ["x-api-key too", `${prefix}/page`, { "x-api-key": key }],
      ["authorization too", `${prefix}/page`, { "authorization": `Bearer ${key}` }],
      ["the revision-target header", `${prefix}/page`, { "x-flowplane-revision-target": "1" }],
      ["an escape in the path", `${prefix}/a%2Fb`, {}],
      ["a dot in the path", `${prefix}/a.json`, {}],
      ["'key' in the query", `${prefix}/page?x-api-KEY=1`, {}],
      ["an escape in the query", `${prefix}/page?q=a%20b`, {}],
      ["X-Forwarded-For twice", `${prefix}/page`, { "x-forwarded-for": ["1.1.1.1", "2.2.2.2"] }],
      ["an unusual Connection", `${prefix}/page`, { "connection": "keep-alive, x-custom" }],
      ["an upgrade", `${prefix}/page`, { "connection": "upgrade", "upgrade": "websocket" }],
      ["the replica's MCP endpoint", `${prefix}/mcp`, {}],
      ["not a gateway path", "/api/v1/projects", {}],
      // Cut short in the log line, a run's path would not read as one: the workers record it whole.
      ["a path past 512 bytes", `${prefix}/flows/${"a".repeat(513 - prefix.length - "/flows//run".length)}/run`, {}],
    ];
    for (const [what, path, headers] of cases) {
      replica.seen.length = 0;
      nginx.workers.seen.length = 0;
      const res = await fast(path, { [CLIENT_ADDRESS_HEADER]: "6.6.6.6", ...headers });
      assert.equal(res.status, 200, what);
      assert.equal(res.headers["x-served-by"], "workers", `${what}: the workers answered`);
      assert.equal(replica.seen.length, 0, `${what}: the replica never saw it`);
      const seen = nginx.workers.seen[0]!;
      assert.equal(seen.url, path, `${what}: the path as sent`);
      assert.equal(seen.headers[CLIENT_ADDRESS_HEADER], "127.0.0.1", `${what}: the client's address, over whatever the client said`);
      assert.equal(seen.headers.host, `127.0.0.1:${nginx.port}`, `${what}: the client's Host`);
      assert.equal(res.headers["x-request-id"], undefined, `${what}: no fast-path run id`);
    }
    // Only the MCP endpoint itself is the workers'; a path of 512 bytes is still served here.
    assert.equal((await fast(`${prefix}/mcp-notes`)).headers["x-served-by"], undefined);
    assert.equal((await fast(`${prefix}/${"b".repeat(511 - prefix.length)}`)).headers["x-served-by"], undefined);
    // A method past 20 characters is never the fast path's (the log line, bounded, must hold it;
    // nginx 1.22 refuses such a method itself, lua.ts access sends one to the workers); PROPFIND is.
    for (const method of ["M".repeat(21), "M".repeat(5_000)]) {
      replica.seen.length = 0;
      const before = (await nginx.program.stats()).fast;
      await fast(`${prefix}/page`, {}, { method });
      assert.deepEqual([replica.seen.length, (await nginx.program.stats()).fast], [0, before], `${method.length} characters`);
    }
    replica.seen.length = 0;
    await fast(`${prefix}/page`, {}, { method: "PROPFIND" });
    assert.equal(replica.seen.length, 1, "PROPFIND on the fast path");
  });

  it("sends the workers a chunked or large body as it comes, and keeps the client's key for them", async () => {
    nginx.workers.seen.length = 0;
    const big = "x".repeat(16 * 1024 + 1);
    const res = await fast(`${prefix}/flows/f/run`, { "content-type": "application/json" }, { method: "POST", body: big });
    assert.equal(res.headers["x-served-by"], "workers", "a body over 16 KiB");
    assert.equal(nginx.workers.seen[0]?.body, big);
    assert.equal(nginx.workers.seen[0]?.headers["x-access-key"], key);
    const chunked = await new Promise<string>((resolve, reject) => {
      const s = connect(nginx.port, "127.0.0.1", () => s.write(`POST ${prefix}/flows/f/run HTTP/1.1\r\nHost: h\r\nx-access-key: ${key}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n`));
      let out = "";
      s.on("data", (c: Buffer) => { out += c.toString(); });
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.match(chunked, /x-served-by: workers/i, "a chunked body");
    assert.equal(nginx.workers.seen.at(-1)?.body, "abc");
    // nginx re-frames a chunked body it has read whole before connecting (here, all of it came with the head) with a Content-Length: the same bytes for node:http.
    assert.ok(["3", undefined].includes(nginx.workers.seen.at(-1)?.headers["content-length"]));
  });

  it("reads a body of up to 16 KiB: one naming a session (plainly or with an escape) goes to the workers, whole", async () => {
    const cases: [string, string, "replica" | "workers"][] = [
      ["a plain body", '{"input_value":"hi"}', "replica"],
      ["a 16 KiB body", `{"input_value":"${"y".repeat(16 * 1024 - 20)}"}`, "replica"],
      ["session_id", '{"input_value":"hi","session_id":"s1"}', "workers"],
      ["session_id deep inside", `{"input_value":"${"z".repeat(9000)}","tweaks":{"session_id":"s"}}`, "workers"],
      ["an escape that could spell it", '{"session\\u005fid":"s1"}', "workers"],
    ];
    for (const [what, body, where] of cases) {
      replica.seen.length = 0;
      nginx.workers.seen.length = 0;
      const res = await fast(`${prefix}/flows/f/run`, { "content-type": "application/json" }, { method: "POST", body });
      assert.equal(res.status, 200, what);
      const got = where === "replica" ? replica.seen : nginx.workers.seen;
      assert.equal(got.length, 1, `${what}: served by the ${where}`);
      assert.equal(got[0]!.body, body, `${what}: the body whole`);
      assert.equal(got[0]!.headers["content-length"], String(Buffer.byteLength(body)));
      if (where === "workers") assert.equal(got[0]!.headers[CLIENT_ADDRESS_HEADER], "127.0.0.1");
    }
  });

  it("leaves an absolute-form target to the workers", async () => {
    replica.seen.length = 0;
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(nginx.port, "127.0.0.1", () => s.write(`GET http://127.0.0.1:${nginx.port}${prefix}/page HTTP/1.1\r\nHost: 127.0.0.1\r\nx-access-key: ${key}\r\nConnection: close\r\n\r\n`));
      let out = "";
      s.on("data", (c: Buffer) => { out += c.toString(); });
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.equal(replica.seen.length, 0, "the replica never saw it");
    assert.match(raw, /x-served-by: workers/i);
  });

  it("admits a key by its entry alone, whatever it hashed before: a key revoked after calls goes to the workers; a key past any key's length, and keys past the thousand a worker keeps hashed, are served by their entries", async () => {
    const served = async (k: string) => {
      const res = await call(nginx.port, `${prefix}/flows/f/run`, { headers: { "x-access-key": k } });
      return res.headers["x-served-by"] === "workers" ? "workers" : res.status === 200 ? "replica" : `status ${res.status}`;
    };
    const set = (keys: string[]) => nginx.program.send({ keys: { set: keys.map((k, i) => ({ key: `${sha256hex(k)}/p1`, userId: "u1", keyId: `c${i}`, ttlMs: 60_000 })) } });
    // A key served, again and again (its hash kept), then revoked.
    const revoked = "fp_" + "v".repeat(43);
    assert.deepEqual((await set([revoked])).errors, []);
    for (let i = 0; i < 3; i++) assert.equal(await served(revoked), "replica");
    assert.deepEqual((await nginx.program.send({ keys: { delete: [`${sha256hex(revoked)}/p1`] } })).errors, []);
    for (let i = 0; i < 3; i++) assert.equal(await served(revoked), "workers", "revoked: its kept hash admits nothing");
    // A value longer than a key: hashed each time, served by its entry, and not once it is gone.
    const long = "fp_" + "L".repeat(300);
    assert.deepEqual((await set([long])).errors, []);
    assert.equal(await served(long), "replica");
    assert.equal(await served(long + "x"), "workers", "another long value: its own hash, no entry");
    // More keys than a worker keeps hashed: each served by its own entry, and an unknown one never.
    const many = Array.from({ length: 1_100 }, (_, i) => `fp_${String(i).padStart(43, "m")}`);
    assert.deepEqual((await set(many)).errors, []);
    for (const k of [...many.slice(0, 5), ...many.slice(-5), many[0]!]) assert.equal(await served(k), "replica", k);
    for (let i = 0; i < 1_050; i++) await served(`fp_${String(i).padStart(43, "u")}`).then((where) => assert.equal(where, "workers"));
    // Their entries again (an entry lives 4 s at most, and the calls above may take a while on a busy machine); the worker's own keep is untouched by this.
    assert.deepEqual((await set(many)).errors, []);
    for (const k of [many[0]!, many[550]!, many.at(-1)!]) assert.equal(await served(k), "replica", `${k} after the keep was cleared`);
    // A key known in project p1 only, on a route of project p2: its p1 entry admits nothing there.
    const p2 = "/projects/p2/apps/a1/routes/r2";
    assert.deepEqual((await nginx.program.send({ routes: { set: [routeEntry("r2", [replica.address], { key: p2.slice(1), project: "p2" })] } })).errors, []);
    assert.deepEqual((await set([many[1]!])).errors, []);
    assert.equal(await served(many[1]!), "replica", "in p1");
    assert.equal((await call(nginx.port, `${p2}/flows/f/run`, { headers: { "x-access-key": many[1]! } })).headers["x-served-by"], "workers", "in p2, where it has no entry");
    assert.deepEqual((await nginx.program.send({ keys: { set: [{ key: `${sha256hex(many[1]!)}/p2`, userId: "u1", keyId: "c1", ttlMs: 4_000 }] } })).errors, []);
    const inP2 = await call(nginx.port, `${p2}/flows/f/run`, { headers: { "x-access-key": many[1]! } });
    assert.deepEqual([inP2.status, inP2.headers["x-served-by"]], [200, undefined], "in p2 once it has one: the replica's");
  });

  it("looks the key up again once a body that took a second or more is in: a key revoked while its body trickled is the workers' to refuse", async () => {
    // Its own key, so the others' stays known. The body's first bytes come with the headers (the
    // key is admitted on them), the key is revoked (deleted, as Node does), the rest comes after.
    const late = "fp_" + "r".repeat(43);
    assert.deepEqual((await nginx.program.send({ keys: { set: [{ key: `${sha256hex(late)}/p1`, userId: "u1", keyId: "k2", ttlMs: 60_000 }] } })).errors, []);
    replica.seen.length = 0;
    nginx.workers.seen.length = 0;
    const body = '{"input_value":"hi"}';
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(nginx.port, "127.0.0.1", () => {
        s.write(`POST ${prefix}/flows/f/run HTTP/1.1\r\nHost: x\r\nx-access-key: ${late}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`);
        setTimeout(() => {
          nginx.program.send({ keys: { delete: [`${sha256hex(late)}/p1`] } })
            // The rest past READMIT_AFTER_MS from the head: a body that took its time (a quicker one is not looked up again, as with the workers).
            .then(() => setTimeout(() => s.write(body.slice(5)), READMIT_AFTER_MS), reject);
        }, 300);
      });
      let out = "";
      s.on("data", (c: Buffer) => { out += c.toString(); });
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.equal(replica.seen.length, 0, "the replica never saw the revoked key's call");
    assert.match(raw, /x-served-by: workers/i);
    assert.equal(nginx.workers.seen[0]?.body, body, "the workers got the body whole");
  });
});

describe("nginx's fast path with CORS on", { timeout: 30_000, skip: SKIP_WITHOUT_NGINX }, () => {
  it("sends a call with an Origin to the workers (they answer with the CORS headers)", async () => {
    const replica = await startReplica();
    const nginx = await startTestNginx({ corsToNode: true });
    try {
      const key = "fp_cors";
      await nginx.program.send({ routes: { set: [routeEntry("r1", [replica.address])] }, keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u", keyId: "k" }] } });
      const path = "/projects/p1/apps/a1/routes/r1/page";
      assert.equal((await call(nginx.port, path, { headers: { "x-access-key": key } })).headers["x-served-by"], undefined, "no Origin: the fast path");
      assert.equal((await call(nginx.port, path, { headers: { "x-access-key": key, "origin": "https://app.example" } })).headers["x-served-by"], "workers");
    } finally {
      await nginx.stop();
      await replica.close();
    }
  });
});

/**
 * A replica's interim answer (1xx). nginx 1.22 takes it for the final answer, and a 1xx has no
 * body, so what the replica wrote after it went to the caller unframed: a client that skips
 * interim answers, as every HTTP client does (node:http, undici's fetch, curl, browsers), read it
 * as the answer, none of the answer's rules applied (Node's fetch followed its Location with the
 * caller's x-access-key). The workers' undici skips a 1xx; here the call is a broken replica's 502.
 */
describe("nginx's fast path: a replica's interim answer", { timeout: 30_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let nginx: TestNginx;
  const servers: { close(): Promise<void> }[] = [];
  const key = "fp_" + "i".repeat(43);
  const final = (res: ServerResponse) => {
    res.writeHead(302, { "location": "https://collector.example/steal", "set-cookie": "session=stolen; Path=/", "content-type": "text/html" });
    res.end("<script>alert(document.domain)</script>");
  };

  before(async () => {
    const hints = await startReplica((_req, res) => { res.writeEarlyHints({ link: "</x>; rel=preload" }); final(res); });
    const processing = await startReplica((_req, res) => { res.writeProcessing(); final(res); });
    // A 101 nobody asked for (the fast path takes no Upgrade), then a whole answer of its own.
    const switching = createNetServer((s) => s.once("data", () => s.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nHTTP/1.1 200 OK\r\nSet-Cookie: session=stolen\r\nContent-Length: 2\r\n\r\nhi")));
    await new Promise<void>((r) => switching.listen(0, "127.0.0.1", r));
    servers.push(hints, processing, { close: () => new Promise((r) => switching.close(() => r())) });
    nginx = await startTestNginx();
    const res = await nginx.program.send({
      routes: { set: [routeEntry("r103", [hints.address]), routeEntry("r102", [processing.address]), routeEntry("r101", [`127.0.0.1:${(switching.address() as AddressInfo).port}`])] },
      keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ttlMs: 4_000 }] },
    });
    assert.deepEqual(res.errors, []);
  });
  after(async () => {
    await nginx?.stop();
    for (const s of servers) await s.close();
  });

  for (const route of ["r103", "r102", "r101"]) {
    it(`answers a replica's ${route.slice(1)} as a failed replica, nothing of what followed it passed (${route})`, async () => {
      const res = await call(nginx.port, `/projects/p1/apps/a1/routes/${route}/page`, { headers: { "x-access-key": key } });
      assert.equal(res.status, 502, res.body);
      assert.equal(res.headers["x-flowplane-error"], "bad_gateway");
      assert.deepEqual(JSON.parse(res.body), { error: { code: "bad_gateway", message: "the replica failed while handling the request" } });
      for (const h of ["location", "set-cookie"]) assert.equal(res.headers[h], undefined, h);
      assert.doesNotMatch(res.body, /script|stolen/);
    });
  }

  it("keeps undici's fetch, which follows redirects with the caller's headers, from following the replica's", async () => {
    const res = await fetch(`http://127.0.0.1:${nginx.port}/projects/p1/apps/a1/routes/r103/page`, { headers: { "x-access-key": key }, redirect: "manual" });
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("location"), null);
  });
});

/**
 * A replica's hop-by-hop answer headers: the Node gateway drops them (gateway/headers.ts
 * HOP_BY_HOP). nginx drops Connection, Keep-Alive and Transfer-Encoding itself, but passed Upgrade,
 * Proxy-Authenticate and Trailer, which the workers never send.
 */
describe("nginx's fast path: a replica's hop-by-hop answer headers", { timeout: 30_000, skip: SKIP_WITHOUT_NGINX }, () => {
  it("drops them as the workers do", async () => {
    const replica = await startReplica((_req, res) => {
      res.writeHead(407, { "upgrade": "websocket", "proxy-authenticate": "Basic realm=\"x\"", "proxy-connection": "keep-alive", "trailer": "x-t", "te": "trailers", "keep-alive": "timeout=1" });
      res.end("no");
    });
    const nginx = await startTestNginx();
    try {
      const key = "fp_" + "h".repeat(43);
      await nginx.program.send({ routes: { set: [routeEntry("r1", [replica.address])] }, keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u", keyId: "k" }] } });
      const res = await call(nginx.port, "/projects/p1/apps/a1/routes/r1/page", { headers: { "x-access-key": key } });
      assert.equal(res.status, 407);
      assert.equal(replica.seen.length, 1, "served on the fast path");
      for (const h of ["upgrade", "proxy-authenticate", "proxy-connection", "trailer", "te", "keep-alive"]) assert.equal(res.headers[h], undefined, h);
    } finally {
      await nginx.stop();
      await replica.close();
    }
  });
});
