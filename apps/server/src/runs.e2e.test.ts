import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { killAll, loadFixture, replicaPidsOf, waitFor } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

interface Run { id: string; flowId: string | null; route: string; caller: { userId: string | null; keyId: string | null }; sessionId: string | null; requestId: string; status: number; latencyMs: number; error?: { code: string } }
interface LogLine { replica: string; time: string | null; text: string }

/**
 * Run history and replica logs (issue #19), end to end through the real server process, its
 * gateway and real replicas on the local driver: calls are recorded with caller, session,
 * status and error code; the history survives a restart (a call made just before a graceful
 * stop included); retention deletes what it should; the logs have no probe lines, filter by
 * request id, and a follow stream shows a new replica's lines across a rolling restart.
 */
describe("runs and logs (e2e)", { timeout: 420_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let project: string;
  let dep: { id: string; endpoints: { http: string } };
  let flowId: string;

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${path}`, {
      method, headers: { "x-access-key": admin, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
  };
  const depPath = (rest: string) => `/projects/${project}/deployments/${dep.id}${rest}`;
  const runs = async (query = ""): Promise<Run[]> => (await api("GET", depPath(`/runs${query}`))).json.items;
  /** A call's label (sent as its x-request-id: a correlation attribute only) to the gateway's own id of it, which names its run. */
  const idOf = new Map<string, string>();
  const rid = (label: string) => idOf.get(label)!;
  const call = async (path: string, body: unknown, label?: string) => {
    const res = await fetch(`${dep.endpoints.http}${path}`, {
      method: "POST", headers: { "x-access-key": admin, "content-type": "application/json", ...(label ? { "x-request-id": label } : {}) }, body: JSON.stringify(body),
    });
    if (label) idOf.set(label, res.headers.get("x-request-id") ?? "");
    return res;
  };
  const ready = () => waitFor(async () => {
    const d = (await api("GET", depPath(""))).json;
    return d.status.phase === "Ready" && d.status.observedGeneration === d.generation;
  }, { timeoutMs: 120_000, intervalMs: 200, message: "Ready" });
  // Two gateway workers whatever the machine: the runs cross their IPC channels in batches.
  const env = { FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_GATEWAY_WORKERS: "2" };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-runs-"));
    server = await startServer(dir, env);
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "runs" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const r = await api("POST", `/projects/${project}/deployments`, { displayName: "Runs", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await ready();
    flowId = ((await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[])[0]!.id;
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
  });

  it("records each call: flow, route, caller (key id, never the key), session, status, latency; a failing call its status and error code", async () => {
    const ok = await call(`/api/v1/run/${flowId}`, { input_value: "hi", session_id: "sess-42" }, "runs-ok-1");
    assert.equal(ok.status, 200, await ok.text());
    const bad = await call("/api/v1/run/no-such-flow", { input_value: "hi" }, "runs-bad-1");
    assert.equal(bad.status, 404);
    await bad.text();
    const list = await waitFor(async () => {
      const items = await runs();
      return items.length >= 2 ? items : null; // the /flows call of `before` is no run
    }, { timeoutMs: 10_000, intervalMs: 100, message: "the runs are recorded" });
    const keys = (await api("GET", `/users/${(await api("GET", "/me")).json.id}/access-keys`)).json;
    const keyId = (Array.isArray(keys) ? keys : keys.items)[0].id as string;
    const good = list.find((x) => x.requestId === rid("runs-ok-1"))!;
    assert.deepEqual({ flowId: good.flowId, route: good.route, sessionId: good.sessionId, status: good.status, error: good.error }, { flowId, route: "http", sessionId: "sess-42", status: 200, error: undefined });
    assert.equal(good.caller.keyId, keyId);
    assert.ok(good.caller.userId);
    assert.ok(good.latencyMs > 0);
    const failed = list.find((x) => x.requestId === rid("runs-bad-1"))!;
    assert.equal(failed.status, 404);
    assert.deepEqual(failed.error, { code: "not_found" }, "the replica's error code, from its x-flowplane-error header");
    assert.equal(failed.flowId, "no-such-flow");
    assert.ok(!JSON.stringify(list).includes(admin), "never the key");
    // Filters and one run by id.
    assert.deepEqual((await runs("?status=error")).map((x) => x.requestId), [rid("runs-bad-1")]);
    assert.deepEqual((await runs("?sessionId=sess-42")).map((x) => x.requestId), [rid("runs-ok-1")]);
    assert.equal((await runs("?since=1h")).length, list.length);
    const one = await api("GET", depPath(`/runs/${good.id}`));
    assert.equal(one.status, 200);
    assert.equal(one.json.requestId, rid("runs-ok-1"));
    assert.equal((await runs()).length, 2, "the /flows call of `before` is no run: only flow runs are");
    assert.equal((await api("GET", depPath("/runs/nope"))).status, 400);
    assert.equal((await api("GET", depPath("/runs/999999"))).status, 404);
    const badQuery = await api("GET", depPath("/runs?status=6xx"));
    assert.equal(badQuery.status, 400);
    assert.match(badQuery.text, /status/);
  });

  it("logs: no probe lines, merged across replicas, filtered by request id", async () => {
    const r = await api("GET", depPath("/logs?tail=1000"));
    assert.equal(r.status, 200, r.text);
    const items = r.json.items as LogLine[];
    assert.ok(items.some((l) => /"msg":"ready"/.test(l.text)), "the replica's start is there");
    assert.ok(!items.some((l) => /\/ready|\/health/.test(l.text)), "no probe lines");
    assert.equal((await api("GET", depPath("/logs?requestId=bad id"))).status, 400);
  });

  it("follow: a rolling restart's new replica shows up in the stream; then its request lines carry the gateway's request id", async () => {
    const before = new Set((r => r.json.replicas.map((x: { replica: string }) => x.replica))(await api("GET", depPath("/logs?tail=0"))));
    const gone = new AbortController();
    const stream = await fetch(`${server.url}/api/v1${depPath("/logs?follow=true&tail=0")}`, { headers: { "x-access-key": admin }, signal: gone.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get("content-type") ?? "", /ndjson/);
    const seen: LogLine[] = [];
    const reading = (async () => {
      const dec = new TextDecoder();
      let buf = "";
      try {
        for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            seen.push(JSON.parse(buf.slice(0, nl)) as LogLine);
            buf = buf.slice(nl + 1);
          }
        }
      } catch {
        // aborted
      }
    })();
    // A new generation (debug logs): the local driver starts a new replica, then drains the old one.
    const patched = await api("PATCH", depPath(""), { runtime: { logLevel: "debug" } });
    assert.equal(patched.status, 200, patched.text);
    await waitFor(() => seen.some((l) => !before.has(l.replica) && /"msg":"ready"/.test(l.text)), { timeoutMs: 120_000, intervalMs: 100, message: "the new replica's lines in the follow stream" });
    await ready();
    // At debug level the replica logs each request with the id the gateway sent it.
    assert.equal((await call(`/api/v1/run/${flowId}`, { input_value: "x" }, "runs-rid-7")).status, 200);
    await waitFor(() => seen.some((l) => l.text.includes(rid("runs-rid-7"))), { timeoutMs: 20_000, intervalMs: 100, message: "the request's line in the stream" });
    assert.ok(!seen.some((l) => /"path":"\/(ready|health)"/.test(l.text)), "probe lines are filtered from the stream too (debug logs each probe)");
    gone.abort();
    await reading;
    const byId = (await api("GET", depPath(`/logs?requestId=${rid("runs-rid-7")}&tail=5000`))).json.items as LogLine[];
    assert.ok(byId.length >= 1);
    assert.ok(byId.every((l) => l.text.includes(rid("runs-rid-7"))));
  });

  it("survives a restart of the control plane, a call made just before a graceful stop included; retention then deletes beyond the count", async () => {
    assert.equal((await call(`/api/v1/run/${flowId}`, { input_value: "last" }, "runs-last-1")).status, 200);
    const ports = { port: server.port, privatePort: server.privatePort };
    await server.stop(); // at once: the recorder's buffer is written at shutdown, not lost
    server = await startServer(dir, env, ports);
    const after = await runs("?limit=200");
    assert.ok(after.some((x) => x.requestId === rid("runs-last-1")), "the last call before the stop is there");
    assert.ok(after.some((x) => x.requestId === rid("runs-ok-1")) && after.some((x) => x.requestId === rid("runs-bad-1")));
    const newest = after.slice(0, 2).map((x) => x.id);

    await server.stop();
    server = await startServer(dir, { ...env, FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT: "2", FLOWPLANE_RUNS_SWEEP_SECONDS: "1" }, ports);
    const kept = await waitFor(async () => {
      const items = await runs("?limit=200");
      return items.length <= 2 ? items : null;
    }, { timeoutMs: 20_000, intervalMs: 200, message: "retention deletes all but the 2 newest runs" });
    assert.deepEqual(kept.map((x) => x.id), newest);
  });
});
