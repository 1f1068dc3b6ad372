import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { request } from "node:http";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiCaller, killAll, loadFixture, replicaPidsOf, waitFor } from "@flowplane/testkit";
import { adminKeyNonce, adminKeyProofMatches } from "@flowplane/core/api";
import { DEFAULT_UID_BASE, DEFAULT_UID_COUNT } from "@flowplane/driver-local";
import { startServer, type ServerProcess } from "../test-process.js";
import { frontAccount } from "./front-account.js";

const root = process.getuid?.() === 0;
/** A value only the control plane's environment holds: the front must hold it nowhere. */
const ENV_MARKER = `marker-${randomBytes(12).toString("hex")}`;

/** Whether `needle` is anywhere in the process's private memory (its heap, stack and anonymous maps; not its files), read as root. */
function memoryHolds(pid: number, needle: string): boolean {
  const want = Buffer.from(needle);
  const fd = openSync(`/proc/${pid}/mem`, "r");
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) r\S\S(p) \S+ \S+ \d+\s*(.*)$/.exec(line);
      if (!m || (m[4] !== "" && !m[4]!.startsWith("["))) continue;
      const start = parseInt(m[1]!, 16);
      const end = parseInt(m[2]!, 16);
      const chunk = Buffer.alloc(1 << 20);
      for (let at = start; at < end; at += chunk.length - want.length) {
        let n = 0;
        try { n = readSync(fd, chunk, 0, Math.min(chunk.length, end - at), at); } catch { break; }
        if (chunk.subarray(0, n).includes(want)) return true;
        if (n < chunk.length) break;
      }
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/**
 * The deployments' uid range of each suite's server, and so its front's account (the uid past it).
 * Test files run two at a time: with one base for all, a server starting its front ends every
 * process of the shared account, another suite's front included (as two installs sharing a base
 * would; the README asks for distinct bases).
 */
export const FRONT_TEST_UID_BASES = { "front/haproxy": DEFAULT_UID_BASE + 1_000_000, "front/nginx": DEFAULT_UID_BASE + 2_000_000, "role/haproxy": DEFAULT_UID_BASE + 3_000_000, "role/nginx": DEFAULT_UID_BASE + 4_000_000 } as const;

interface Run { flowId: string | null; route: string; caller: { userId: string | null; keyId: string | null }; sessionId: string | null; requestId: string; status: number; revision: number | null }

/** CORS is on for this origin: a call naming it goes to the workers; calls without Origin (all others here) are unaffected. */
const CORS_ORIGIN = "https://shop.example.com";

/** A native front under test (FLOWPLANE_GATEWAY_PROXY): what differs between HAProxy and nginx, for the cases they share. */
export interface FrontUnderTest {
  /** FLOWPLANE_GATEWAY_PROXY. */
  proxy: "haproxy" | "nginx";
  /** Its name in the cases' titles and messages. */
  name: string;
  /** Its pid file, in `<data>/<proxy>/`: the same process before and after a change proves no reload replaced it. */
  pidFile: string;
  /** Its files in `<data>/<proxy>/` that only this user may read (its configuration holds the log sink's token). */
  privateFiles: string[];
  /** Its configuration file, and the line in it that sends a call to the workers' socket. */
  config: { file: string; toWorkers(socket: string): RegExp };
  /** Why the suite cannot run here (the proxy is not installed, outside CI), or false. */
  skip: string | false;
  /**
   * How many calls the front has served itself so far, read from the front's own counters (never
   * from the answer, which must be the workers' on both paths): `dir` is the server's data folder.
   */
  fastCount(dir: string): Promise<number>;
  /** What the front holds for the timeout's message of a change that does not arrive (secrets left out); none: "". */
  explain?(dir: string): Promise<string>;
}

/**
 * A native front end to end (FLOWPLANE_GATEWAY_PROXY=haproxy or nginx): the real server with its
 * own proxy child in front of two gateway workers, a real replica, loopback only. Both fronts
 * answer every call exactly as the workers would; these cases hold each to that, and to the
 * changes (keys, the kill switch, an edit, a rollback) reaching it live, with no reload.
 */
export function frontCases(front: FrontUnderTest): void {
  const uidBase = FRONT_TEST_UID_BASES[`front/${front.proxy}`];
  /** The front's account as the server computes it for this suite's settings (its port is above 1024). */
  const frontAccountHere = () => frontAccount({ uid: 0, replicaUids: { base: uidBase, count: DEFAULT_UID_COUNT }, port: 65_000, unprivilegedPortStart: 1024 })!;
  describe(`gateway behind ${front.name} (e2e)`, { timeout: 300_000, skip: front.skip }, () => {
    let dir: string;
    let server: ServerProcess;
    let admin: string;
    let project: string;
    let other: string;
    let dep: { id: string; endpoints: { http: string } };
    let flowId: string;

    const api = (method: string, path: string, body?: unknown) => apiCaller(server.url, admin)(method, path, body);
    const depPath = (rest: string) => `/projects/${project}/deployments/${dep.id}${rest}`;
    const fastCount = () => front.fastCount(dir);
    const pidOf = async () => (await readFile(join(dir, front.proxy, front.pidFile), "utf8")).trim();
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${dep.endpoints.http}${path}`, { headers: { "x-access-key": admin, ...headers } });
    /** One call, and whether the front served it itself (nothing else calls meanwhile). */
    const served = async (call: () => Promise<Response>) => {
      const n = await fastCount();
      const r = await call();
      const body = await r.text();
      return { r, body, fast: (await fastCount()) > n };
    };
    /** Until the front serves the route itself, with the replica's answer (a front counts its own error answers as served too). */
    const onFastPath = () => waitFor(async () => {
      const x = await served(() => get("/flows"));
      return x.fast && x.r.status === 200;
    }, { timeoutMs: 15_000, intervalMs: 100, message: `${front.name} serves the route itself` });

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `flowplane-${front.proxy}-`));
      server = await startServer(dir, { FP_FRONT_TEST_MARKER: ENV_MARKER, FLOWPLANE_RUNTIME_UID_BASE: String(uidBase), FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_GATEWAY_WORKERS: "2", FLOWPLANE_GATEWAY_PROXY: front.proxy, FLOWPLANE_WARM_REVISION_SECONDS: "0", FLOWPLANE_GATEWAY_CORS_ORIGINS: CORS_ORIGIN });
      admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
      project = (await api("POST", "/projects", { name: "fast" })).json.id;
      other = (await api("POST", "/projects", { name: "other" })).json.id;
      for (const v of ["1", "2"]) assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: v, accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
      const r = await api("POST", `/projects/${project}/deployments`, { displayName: "Fast", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
      assert.equal(r.status, 201, r.text);
      dep = r.json;
      await waitFor(async () => (await api("GET", depPath(""))).json.status.phase === "Ready", { timeoutMs: 120_000, intervalMs: 200, message: "Ready" });
      flowId = ((await (await get("/flows")).json()) as { id: string }[])[0]!.id;
    });
    after(async () => {
      await server?.stop().catch(() => undefined);
      killAll(await replicaPidsOf(dir));
      await rm(dir, { recursive: true, force: true });
    });

    it(`runs ${front.name} as its own child in a folder only this user enters, and the API through it`, async () => {
      assert.equal((await stat(join(dir, front.proxy))).mode & 0o777, 0o700);
      for (const f of front.privateFiles) assert.equal((await stat(join(dir, front.proxy, f))).mode & 0o777, 0o600, f);
      assert.match(await pidOf(), /^\d+$/);
      assert.equal((await api("GET", "/me")).status, 200);
      // The CLI's admin-key challenge, public, through the front: the proof names the front's
      // port, the one a CLI on this machine calls, not the workers' behind it.
      const nonce = adminKeyNonce();
      const proof = await fetch(`${server.url}/api/v1/admin-key/proof`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ nonce }) });
      const answer = (await proof.json()) as { port: number; addresses: string[]; proof: string };
      assert.equal(proof.status, 200);
      assert.equal(answer.port, Number(new URL(server.url).port));
      assert.equal(answer.addresses[0], "127.0.0.1");
      assert.ok(await adminKeyProofMatches(admin, answer, nonce, answer.proof));
    });

    it("passes what it does not serve to the workers over a Unix socket, which a replica's uid cannot reach to name a client", async () => {
      // The workers believe the client address this socket's peer names (HAProxy's PROXY line,
      // nginx's header): a loopback port let any local process, a replica's too, name any client.
      const config = await readFile(join(dir, front.proxy, front.config.file), "utf8");
      const account = root ? frontAccountHere() : undefined;
      // As root, in a folder of root's that only the front's account enters (front-account.ts),
      // the data folder closed to it; otherwise in the proxy's folder in the data folder.
      const socket = account ? /\/[^\s:@]*\/flowplane-sock-[^/\s]+\/node\.sock/.exec(config)?.[0] ?? "(none in the configuration)" : join(dir, front.proxy, "node.sock");
      assert.ok((await stat(socket)).isSocket(), socket);
      assert.match(config, front.config.toWorkers(socket));
      if (!account) return; // only root can run a process under a replica's uid
      const folder = await stat(dirname(socket));
      // Root's (the account may not add a link there for root to follow), entered by the account's group alone.
      assert.deepEqual({ mode: folder.mode & 0o777, uid: folder.uid, gid: folder.gid }, { mode: 0o710, uid: 0, gid: account.gid }, "root's, entered by the front's group alone");
      const sock = await stat(socket);
      assert.deepEqual({ mode: sock.mode & 0o777, uid: sock.uid, gid: sock.gid }, { mode: 0o660, uid: 0, gid: account.gid });
      const tryAs = (uid: number) => spawnSync(process.execPath, ["-e", `require("node:net").connect(${JSON.stringify(socket)}).on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(0); })`], { uid, gid: uid, encoding: "utf8", timeout: 10_000 });
      const replica = tryAs(uidBase + DEFAULT_UID_COUNT - 5);
      assert.equal(replica.stdout.trim(), "EACCES", replica.stderr);
      const own = tryAs(account.uid);
      assert.equal(own.stdout.trim(), "connected", own.stderr);
    });

    it(`runs ${front.name} as an account of its own when the control plane is root, never as root, with none of the control plane's environment`, { skip: !root ? "the control plane is not root here: the front runs as its user" : false }, async () => {
      const account = frontAccountHere();
      const main = Number(await pidOf());
      // The front's processes: the one in its pid file and its children (nginx's workers).
      const children = readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => {
        try { return Number(/^\d+ \(.*\) \S (\d+)/s.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1]) === main; } catch { return false; }
      });
      const ids = (pid: number) => {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        const field = (name: string) => (status.split("\n").find((l) => l.startsWith(`${name}:`)) ?? "").slice(name.length + 1).split(/\s+/).filter((x) => x !== "").map(Number);
        return { uids: field("Uid"), gids: field("Gid"), groups: field("Groups") };
      };
      const all = [main, ...children];
      assert.ok(front.proxy === "haproxy" || children.length > 0, "nginx's workers are found");
      for (const pid of all) {
        // Started as the account (never root then dropped): nothing else runs as it, and the
        // kernel's parent-death signal, which a uid change clears, still ends it with the control plane.
        assert.deepEqual(ids(pid), { uids: [account.uid, account.uid, account.uid, account.uid], gids: [account.gid, account.gid, account.gid, account.gid], groups: [] }, `pid ${pid}`);
        // None of the control plane's environment (which may hold FLOWPLANE_SECRET_KEY, DATABASE_URL)
        // anywhere in its memory: nginx writes its title over /proc's environ, and keeps a copy.
        assert.equal(memoryHolds(pid, ENV_MARKER), false, `pid ${pid} holds the control plane's environment`);
      }
      // What it runs as cannot read the data folder.
      const peek = spawnSync(process.execPath, ["-e", `try { require("node:fs").readdirSync(${JSON.stringify(dir)}); console.log("listed"); } catch (e) { console.log(e.code); }`], { uid: account.uid, gid: account.gid, encoding: "utf8", timeout: 10_000 });
      assert.equal(peek.stdout.trim(), "EACCES", peek.stderr);
      // Calls still go through it, both paths.
      await onFastPath();
      assert.equal((await get("/flows", { "x-access-key": "fp_wrong" })).status, 401);
    });

    it(`puts every call it serves in the gateway's latency histogram, a listing as much as a run`, async () => {
      // nginx counts a listing (no run) instead of logging it; HAProxy logs it. Either way the
      // control plane's histogram, merged with the workers' in /metrics, has each call once.
      await onFastPath();
      const routeId = new URL(dep.endpoints.http).pathname.split("/").at(-1)!;
      const count = async () => {
        const text = await (await fetch(`${server.privateUrl}/metrics`, { headers: { "x-access-key": admin } })).text();
        let n = 0;
        for (const line of text.split("\n")) if (line.startsWith("flowplane_gateway_request_duration_seconds_count{") && line.includes(`route_id="${routeId}"`)) n += Number(line.split(" ").at(-1));
        return n;
      };
      // The calls before this one have reached the control plane (a front sends its lines and counts every 0.2 s).
      await new Promise((r) => setTimeout(r, 1_000));
      const before = await count();
      let fast = 0;
      for (let i = 0; i < 20; i++) {
        const x = await served(() => get(i % 4 === 0 ? `/flows/${flowId}/info` : "/flows"));
        assert.equal(x.r.status, 200, x.body);
        if (x.fast) fast++;
      }
      assert.ok(fast > 0, `${front.name} served some of them itself`);
      await waitFor(async () => (await count()) - before >= 20, { timeoutMs: 5_000, intervalMs: 100, message: `20 calls in the histogram (${fast} served by ${front.name})` });
      assert.equal((await count()) - before, 20, "each call once");
    });

    it(`the right key is served by ${front.name} with the gateway's headers; a wrong key, no key and another project's key are the workers' answers`, async () => {
      await onFastPath();
      const ok = await served(() => get("/flows", { "x-request-id": "hp-req-1" }));
      assert.equal(ok.r.status, 200, ok.body);
      assert.ok(ok.fast, `served by ${front.name}`);
      // The gateway's own run id, not the caller's (headers.ts newRequestId).
      assert.match(ok.r.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
      assert.equal(ok.r.headers.get("x-flowplane-revision"), "1");
      // Wrong key, no key: 401 as today, from the workers (the front never answers an error itself).
      const wrong = await served(() => get("/flows", { "x-access-key": "fp_wrong" }));
      assert.deepEqual([wrong.r.status, wrong.fast, JSON.parse(wrong.body).error.code], [401, false, "unauthenticated"]);
      assert.equal(wrong.r.headers.get("www-authenticate"), 'Bearer realm="flowplane"');
      const none = await served(() => fetch(`${dep.endpoints.http}/flows`));
      assert.deepEqual([none.r.status, none.fast], [401, false]);
      // A key whose user has a role in another project only: 401, as the workers answer it.
      const u = (await api("POST", "/users", { name: "elsewhere", kind: "machine" })).json;
      assert.equal((await api("PUT", `/projects/${other}/members/${u.id}`, { role: "editor" })).status, 200);
      const key = (await api("POST", `/users/${u.id}/access-keys`, { expiresInDays: 1 })).json.key as string;
      for (let i = 0; i < 3; i++) {
        const x = await served(() => get("/flows", { "x-access-key": key }));
        assert.deepEqual([x.r.status, x.fast], [401, false], x.body);
      }
      // The route under another project's path: 404, from the workers.
      const moved = await served(() => fetch(dep.endpoints.http.replace(project, other) + "/flows", { headers: { "x-access-key": admin } }));
      assert.deepEqual([moved.r.status, moved.fast], [404, false]);
      // A viewer of this project gets the fast path once the workers admitted the key.
      const v = (await api("POST", "/users", { name: "viewer", kind: "machine" })).json;
      assert.equal((await api("PUT", `/projects/${project}/members/${v.id}`, { role: "viewer" })).status, 200);
      const vkey = (await api("POST", `/users/${v.id}/access-keys`, { expiresInDays: 1 })).json.key as string;
      await waitFor(async () => {
        const x = await served(() => get("/flows", { "x-access-key": vkey }));
        assert.equal(x.r.status, 200);
        return x.fast;
      }, { timeoutMs: 10_000, intervalMs: 50, message: "the viewer's key on the fast path" });
      // Revoked: refused within the key cache's bound (4 s), as by the workers.
      const keys = (await api("GET", `/users/${v.id}/access-keys`)).json;
      const keyId = (Array.isArray(keys) ? keys : keys.items)[0].id as string;
      assert.equal((await api("DELETE", `/access-keys/${keyId}`)).status, 200);
      const t0 = Date.now();
      await waitFor(async () => (await get("/flows", { "x-access-key": vkey })).status === 401, { timeoutMs: 6_000, intervalMs: 100, message: "the revoked key is refused" });
      assert.ok(Date.now() - t0 < 5_500);
    });

    it("with CORS on, a browser's call (Origin) is the workers', answered with the CORS headers; the same call without Origin stays on the fast path", async () => {
      await onFastPath();
      const browser = await served(() => get("/flows", { origin: CORS_ORIGIN }));
      assert.equal(browser.r.status, 200, browser.body);
      assert.equal(browser.fast, false, "served by the workers");
      assert.equal(browser.r.headers.get("access-control-allow-origin"), CORS_ORIGIN);
      assert.match(browser.r.headers.get("access-control-expose-headers") ?? "", /x-flowplane-run-id/);
      const plain = await served(() => get("/flows"));
      assert.equal(plain.r.status, 200);
      assert.ok(plain.fast, `served by ${front.name}`);
      assert.equal(plain.r.headers.get("access-control-allow-origin"), null);
    });

    it(`records the calls ${front.name} serves as runs (caller, flow, status, revision), and the workers' as before`, async () => {
      await onFastPath();
      const fast = await served(() => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, {
        method: "POST", headers: { "x-access-key": admin, "content-type": "application/json", "x-request-id": "hp-run-1" }, body: JSON.stringify({ input_value: "hi" }),
      }));
      assert.equal(fast.r.status, 200, fast.body);
      assert.ok(fast.fast, `served by ${front.name}`);
      // A body naming a session is the workers' (the run record reads it).
      const sess = await served(() => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, {
        method: "POST", headers: { "x-access-key": admin, "content-type": "application/json", "x-request-id": "hp-run-2" }, body: JSON.stringify({ input_value: "hi", session_id: "s-7" }),
      }));
      assert.deepEqual([sess.r.status, sess.fast], [200, false]);
      // So is one naming it with a JSON escape in the key, which a byte search for session_id misses.
      const escaped = await served(() => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, {
        method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" }, body: '{"input_value":"hi","session\\u005fid":"s-8"}',
      }));
      assert.deepEqual([escaped.r.status, escaped.fast], [200, false], escaped.body);
      // An escape no ASCII key can be spelled with (Python's json.dumps escapes every non-ASCII character) stays on the fast path.
      const cjk = await served(() => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, {
        method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" }, body: '{"input_value":"\\u4e2d\\u6587"}',
      }));
      assert.deepEqual([cjk.r.status, cjk.fast], [200, true], cjk.body);
      // On both paths the run id is the gateway's own UUID, never the caller's X-Request-Id, and the
      // answer carries what the workers set on every replica answer.
      const ids = [fast, sess, escaped].map((x) => x.r.headers.get("x-request-id") ?? "");
      for (const [i, x] of [fast, sess].entries()) {
        assert.match(ids[i]!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `run id of call ${i}`);
        assert.deepEqual([x.r.headers.get("content-security-policy"), x.r.headers.get("x-content-type-options")], ["sandbox", "nosniff"], `call ${i}`);
      }
      const runs = await waitFor(async () => {
        const items = (await api("GET", depPath("/runs?limit=100"))).json.items as Run[];
        const a = items.find((x) => x.requestId === ids[0]);
        const b = items.find((x) => x.requestId === ids[1]);
        const c = items.find((x) => x.requestId === ids[2]);
        return a && b && c ? { a, b, c } : null;
      }, { timeoutMs: 10_000, intervalMs: 100, message: "both calls recorded" });
      assert.deepEqual({ flowId: runs.a.flowId, route: runs.a.route, status: runs.a.status, sessionId: runs.a.sessionId, revision: runs.a.revision }, { flowId, route: "http", status: 200, sessionId: null, revision: 1 });
      assert.ok(runs.a.caller.userId && runs.a.caller.keyId, "the caller is named");
      assert.equal(runs.b.sessionId, "s-7");
      assert.equal(runs.c.sessionId, "s-8");
    });

    it("serves a run whose small body arrives slowly (6 s between its two halves), not a 408: on HAProxy's fast path; on nginx's, or by the workers once the key's entry has aged out", async () => {
      await onFastPath();
      const n = await fastCount();
      const body = JSON.stringify({ input_value: "slow body" });
      const url = new URL(`${dep.endpoints.http}/flows/${flowId}/run`);
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(url, { method: "POST", headers: { "x-access-key": admin, "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (c: string) => (text += c)).on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on("error", reject);
        req.write(body.slice(0, 10));
        setTimeout(() => req.end(body.slice(10)), 6_000);
      });
      assert.equal(answer.status, 200, answer.text);
      assert.match(answer.text, /slow body/);
      // nginx looks the key up again once the body is in (nginx/lua.ts): its entry lives 4 s unless
      // a refresh renews it, so a body 6 s late is served on the fast path or, when the entry has
      // aged out, by the workers, who admit the key again. HAProxy checks the key on the headers.
      if (front.proxy === "haproxy") assert.ok((await fastCount()) > n, `served by ${front.name}`);
    });

    it("keeps a key in use on the fast path past the key cache's 4 s, and another deployment's changes leave its calls there", async () => {
      await onFastPath();
      // Another project's deployment, created, disabled and undeployed while this one is called:
      // three changes pushed to the gateways, none of them this deployment's.
      let changes = 0;
      let otherId = "";
      const change = async () => {
        if (changes === 0) {
          const r = await api("POST", `/projects/${other}/deployments`, { displayName: "Elsewhere", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
          assert.equal(r.status, 201, r.text);
          otherId = r.json.id;
        } else if (changes === 1) assert.equal((await api("POST", `/projects/${other}/deployments/${otherId}/disable`, {})).status, 200);
        else assert.equal((await api("DELETE", `/projects/${other}/deployments/${otherId}`)).status, 202);
        changes++;
      };
      const slow: string[] = [];
      const t0 = Date.now();
      // About 6 s of calls, one every 50 ms or so: past the admin key's 4 s entry at least once;
      // on a loaded machine, until the third change too (60 calls may take longer than 6.5 s).
      for (let i = 0; i < 100 && (Date.now() - t0 < 6_500 || changes < 3); i++) {
        if (i === 20 || i === 40 || i === 60) await change();
        const x = await served(() => get("/flows"));
        assert.equal(x.r.status, 200, x.body);
        // The entry the key had when the calls began was made by an earlier test's read; if they
        // began within a second of its end, no read again could finish in time (an entry never
        // outlives 4 s from its read: KEY_ENTRY_MS), and one call goes through the workers, which
        // read the key anew. From then on the key is in use: every call on the fast path, over
        // more than 4 s (at least 1 s to 5 s).
        if (!x.fast && Date.now() - t0 >= 1_000) slow.push(`call ${i} at ${Date.now() - t0} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(Date.now() - t0 > 5_000, "the calls spanned more than the key's 4 s");
      assert.equal(changes, 3);
      assert.deepEqual(slow, [], `every call served by ${front.name} itself`);
    });

    it("sends what only the workers do to them: the revision-target header, the kill switch; a change is live without a reload", async () => {
      await onFastPath();
      const pid = await pidOf();
      const targeted = await served(() => get("/flows", { "x-flowplane-revision-target": "9" }));
      assert.deepEqual([targeted.r.status, targeted.fast], [404, false]);
      assert.equal((await api("POST", depPath("/disable"), {})).status, 200);
      // As with the workers (kill-switch.e2e.test.ts), the change is pushed, not read again after a TTL: the front's route entry is dropped.
      const off = await waitFor(async () => {
        const x = await served(() => get("/flows"));
        return x.r.status === 503 ? x : null;
      }, { timeoutMs: 5_000, intervalMs: 20, message: "the kill switch answers" });
      assert.deepEqual([off.fast, JSON.parse(off.body).error.code, off.r.headers.get("retry-after")], [false, "deployment_disabled", "300"]);
      for (let i = 0; i < 5; i++) assert.equal((await served(() => get("/flows"))).r.status, 503);
      assert.equal((await api("POST", depPath("/enable"))).status, 200);
      await onFastPath();
      assert.equal(await pidOf(), pid, `the same ${front.name} process`);
    });

    it(`an edit and a rollback reach ${front.name} without a reload: revision 2 on the fast path, then the rollback's renamed revision through the workers`, async () => {
      await onFastPath();
      const pid = await pidOf();
      const e = await api("PATCH", depPath(""), { bundle: { version: "2" } });
      assert.equal(e.status, 200, e.text);
      assert.equal(e.json.revision, 2);
      // Revision 2's replica, named by itself, served by the front (revision 1's replica has left its route).
      await waitFor(async () => {
        const x = await served(() => get("/flows"));
        if (x.r.status === 200 && x.fast && x.r.headers.get("x-flowplane-revision") === "2") return true;
        throw new Error(`status ${x.r.status}, fast ${x.fast}, revision ${x.r.headers.get("x-flowplane-revision")}; ${await front.explain?.(dir) ?? ""}`);
      }, { timeoutMs: 120_000, intervalMs: 100, message: "revision 2 on the fast path" });
      // A rollback's replicas are started for revision 1 and named as revision 3: the workers' rule (headers.ts), so their path.
      const r = await api("POST", depPath("/rollback"), { revision: 1 });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.revision, 3);
      // Until five calls in a row answer as revision 3: each worker holds its own route, and one
      // may take the change a moment after the other (CI saw a revision 2 answer after a 3).
      // Every revision 3 answer, first to last, came through the workers.
      const threes: boolean[] = [];
      await waitFor(async () => {
        for (let i = 0; i < 5; i++) {
          const x = await served(() => get("/flows"));
          if (x.r.status !== 200 || x.r.headers.get("x-flowplane-revision") !== "3") return false;
          threes.push(x.fast);
        }
        return true;
      }, { timeoutMs: 120_000, intervalMs: 100, message: "revision 3 served by every worker" });
      assert.ok(threes.length >= 5 && threes.every((fast) => !fast), `revision 3 through the workers only: ${threes.join(", ")}`);
      assert.equal(await pidOf(), pid, `the same ${front.name} process`);
    });
  });
}
