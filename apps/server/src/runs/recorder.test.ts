import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Registry } from "prom-client";
import type { Logger, NewRun, Store } from "@flowplane/core";
import { createPgliteClient, createSqlStore, type SqlClient } from "@flowplane/store";
import { flowIdOf, runOf, type GatewayCall } from "./call.js";
import { BufferedRunRecorder } from "./recorder.js";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

const call = (i: number, over: Partial<GatewayCall> = {}): GatewayCall => ({
  route: { deploymentId: "dep-1", projectId: "p-1", kind: "http" }, userId: "u-1", keyId: "k-1", requestId: `req-${i}`, method: "POST",
  path: "/api/v1/run/flow-a", headers: {}, body: Buffer.from(JSON.stringify({ input_value: "hi", session_id: `s-${i}` })), status: 200, latencyMs: 5,
  errorCode: undefined, ...over,
});

async function counter(registry: Registry, outcome: string): Promise<number> {
  const m = await registry.getSingleMetric("flowplane_runs_recorded_total")!.get();
  return m.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

describe("run recorder", () => {
  let sql: SqlClient;
  let store: Store;
  before(async () => {
    sql = await createPgliteClient();
    store = createSqlStore({ sql });
    await store.migrate();
  });
  after(async () => {
    await sql.close();
  });

  it("reads the flow, session and MCP tool cheaply; calls never admitted are no runs", () => {
    assert.equal(flowIdOf("/api/v1/run/my%20flow"), "my flow");
    assert.equal(flowIdOf("/flows/abc/run"), "abc");
    assert.equal(flowIdOf("/flows"), null);
    const r = runOf(call(1, { errorCode: "run_failed", status: 500 }), Date.parse("2026-01-01T00:00:01Z"))!;
    assert.deepEqual({ flowId: r.flowId, sessionId: r.sessionId, route: r.route, status: r.status, errorCode: r.errorCode, time: r.time },
      { flowId: "flow-a", sessionId: "s-1", route: "http", status: 500, errorCode: "run_failed", time: "2026-01-01T00:00:00.995Z" });
    const mcp = runOf(call(2, {
      route: { deploymentId: "dep-1", projectId: "p-1", kind: "mcp" }, path: "/mcp", headers: { "mcp-session-id": "m-9" },
      body: Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: { q: "x" } } })),
    }), Date.now())!;
    assert.deepEqual({ tool: mcp.tool, sessionId: mcp.sessionId, flowId: mcp.flowId }, { tool: "ask", sessionId: "m-9", flowId: null });
    assert.equal(runOf(call(3, { body: Buffer.from("not json but mentions session_id") }), Date.now())!.sessionId, null);
    // The key spelled with a JSON escape names the session as surely.
    assert.equal(runOf(call(4, { body: Buffer.from('{"input_value":"hi","session\\u005fid":"s-e"}') }), Date.now())!.sessionId, "s-e");
    assert.equal(runOf(call(4, { route: undefined }), Date.now()), null);
    // What PostgreSQL cannot store never reaches a batch (one such value would fail all of it).
    const odd = runOf(call(5, { body: Buffer.from(JSON.stringify({ session_id: "a\u0000b\ud800c" })) }), Date.now())!;
    assert.equal(odd.sessionId, "ab\ufffdc");
  });

  it("counts only flow runs: listing flows, probes, docs, MCP initialize and tools/list are calls, not runs", () => {
    assert.equal(flowIdOf("/flows/abc/stream"), "abc");
    for (const path of ["/flows", "/flows/abc/info", "/health", "/openapi.json", "/docs", "/api/v1/run"]) {
      assert.equal(runOf(call(10, { method: "GET", path, body: null }), Date.now()), null, path);
    }
    assert.equal(runOf(call(11, { path: "/flows/abc/stream" }), Date.now())?.flowId, "abc");
    const mcp = (body: unknown, method = "POST") => runOf(call(12, {
      route: { deploymentId: "dep-1", projectId: "p-1", kind: "mcp" }, path: "/mcp", method, body: body === null ? null : Buffer.from(JSON.stringify(body)),
    }), Date.now());
    assert.equal(mcp({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }), null);
    assert.equal(mcp({ jsonrpc: "2.0", id: 2, method: "tools/list" }), null);
    assert.equal(mcp({ jsonrpc: "2.0", method: "notifications/initialized" }), null);
    // tools/call sent as a notification (no id): the SDK answers 202 and calls no tool, so no run.
    assert.equal(mcp({ jsonrpc: "2.0", method: "tools/call", params: { name: "ask", arguments: {} } }), null);
    assert.equal(mcp(null, "GET"), null);
    assert.equal(mcp({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "ask" } })?.tool, "ask");
    // The replica's /mcp reached through the HTTP route: the same rules.
    const viaHttp = (body: unknown) => runOf(call(13, { path: "/mcp", body: Buffer.from(JSON.stringify(body)) }), Date.now());
    const r = viaHttp({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "ask" } });
    assert.deepEqual({ run: r !== null, route: r?.route, tool: r?.tool, flowId: r?.flowId }, { run: true, route: "http", tool: "ask", flowId: null });
    assert.equal(viaHttp({ jsonrpc: "2.0", id: 8, method: "tools/list" }), null);
    // Naming tools/call only in a value is no run (it inflated the deployment's request counts).
    assert.equal(mcp({ jsonrpc: "2.0", id: 5, method: "tools/list", params: { cursor: "tools/call" } }), null);
    assert.equal(mcp({ jsonrpc: "2.0", id: 6, method: "ping", params: { _meta: { note: "tools/call" } } }), null);
    // Too large to parse (over 64 KiB): still a run, its tool unknown.
    const big = mcp({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "ask", arguments: { q: "x".repeat(70_000) } } });
    assert.deepEqual({ run: big !== null, tool: big?.tool }, { run: true, tool: null });
    // The method spelled with JSON escapes is tools/call to the replica: a run all the same, on either route.
    const raw = (text: string, kind: "mcp" | "http") => runOf(call(14, { route: { deploymentId: "dep-1", projectId: "p-1", kind }, path: "/mcp", body: Buffer.from(text) }), Date.now());
    for (const method of ["tools\\/call", "\\u0074ools/call", "tools\\u002fcall"]) {
      const text = `{"jsonrpc":"2.0","id":9,"method":"${method}","params":{"name":"ask"}}`;
      assert.equal((JSON.parse(text) as { method: string }).method, "tools/call");
      for (const kind of ["mcp", "http"] as const) assert.equal(raw(text, kind)?.tool, "ask", `${text} on the ${kind} route`);
    }
    assert.equal(raw(`{"jsonrpc":"2.0","id":10,"method":"tools\\/list"}`, "mcp"), null);
    const bigEscaped = raw(`{"jsonrpc":"2.0","id":11,"method":"tools\\/call","params":{"name":"ask","arguments":{"q":"${"x".repeat(70_000)}"}}}`, "mcp");
    assert.deepEqual({ run: bigEscaped !== null, tool: bigEscaped?.tool }, { run: true, tool: null });
  });

  it("a JSON-RPC batch is no run: the replica refuses one holding tools/call (400, -32600) and runs no flow for any other", () => {
    const raw = (text: string, kind: "mcp" | "http") => runOf(call(15, { route: { deploymentId: "dep-1", projectId: "p-1", kind }, path: "/mcp", body: Buffer.from(text) }), Date.now());
    const one = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask" } });
    for (const text of [`[${one}]`, `[${one},${one}]`, ` \r\n\t[${one}]`, `\uFEFF[${one}]`, JSON.stringify([{ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "ask", arguments: { q: "x".repeat(70_000) } } }]), `[${one.replace("tools/call", "tools\\/call")}]`]) {
      for (const kind of ["mcp", "http"] as const) assert.equal(raw(text, kind), null, `${text.slice(0, 40)} on the ${kind} route`);
    }
    // A single call whose arguments hold an array is still a run.
    assert.equal(raw(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "ask", arguments: { list: [1] } } }), "mcp")?.tool, "ask");
  });

  it("writes full batches at once and the rest at close, each batch one INSERT", async () => {
    const registry = new Registry();
    const inserts: number[] = [];
    const counting: Store = { ...store, insertRuns: (runs: NewRun[]) => (inserts.push(runs.length), store.insertRuns(runs)) };
    const rec = new BufferedRunRecorder({ store: counting, registry, log: quiet, batchSize: 100, flushIntervalMs: 60_000 });
    for (let i = 0; i < 250; i++) rec.record(call(i));
    await rec.close();
    assert.deepEqual(inserts, [100, 100, 50]);
    assert.equal(await counter(registry, "written"), 250);
    const page = await store.listRuns("dep-1", { sessionId: "s-249" }, { limit: 5 });
    assert.equal(page.items.length, 1);
    rec.record(call(999)); // after close: ignored, not buffered
    assert.equal(rec.pending, 0);
  });

  it("drops and counts beyond its bound while the database is stuck, and writes what it kept once it answers", async () => {
    const registry = new Registry();
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const slow: Store = { ...store, insertRuns: async (runs: NewRun[]) => { await stuck; await store.insertRuns(runs); } };
    const rec = new BufferedRunRecorder({ store: slow, registry, log: quiet, maxBuffered: 10, batchSize: 5, flushIntervalMs: 60_000 });
    for (let i = 0; i < 30; i++) rec.record(call(1000 + i, { route: { deploymentId: "dep-2", projectId: "p-1", kind: "http" } }));
    // The first full batch (5) went to the stuck write; 10 more wait; the other 15 were dropped.
    assert.equal(rec.pending, 10);
    assert.equal(await counter(registry, "dropped"), 15);
    release();
    await rec.close();
    assert.equal((await store.listRuns("dep-2", {}, { limit: 100 })).items.length, 15);
  });

  it("puts a failed batch back and writes it on the next flush", async () => {
    const registry = new Registry();
    let fail = true;
    const flaky: Store = { ...store, insertRuns: async (runs: NewRun[]) => { if (fail) throw new Error("connection lost"); await store.insertRuns(runs); } };
    const rec = new BufferedRunRecorder({ store: flaky, registry, log: quiet, batchSize: 50, flushIntervalMs: 60_000 });
    for (let i = 0; i < 3; i++) rec.record(call(2000 + i, { route: { deploymentId: "dep-3", projectId: "p-1", kind: "http" } }));
    await rec.flush();
    assert.equal(rec.pending, 3);
    fail = false;
    await rec.close();
    assert.equal((await store.listRuns("dep-3", {}, { limit: 100 })).items.length, 3);
    assert.equal(await counter(registry, "dropped"), 0);
  });

  it("drops (and counts) a batch the database refuses three times, so the runs behind it are written", async () => {
    const registry = new Registry();
    const refusing: Store = { ...store, insertRuns: async (runs: NewRun[]) => { if (runs.some((r) => r.requestId === "poison")) throw new Error("invalid input"); await store.insertRuns(runs); } };
    const rec = new BufferedRunRecorder({ store: refusing, registry, log: quiet, batchSize: 2, flushIntervalMs: 60_000 });
    const dep = { route: { deploymentId: "dep-4", projectId: "p-1", kind: "http" as const } };
    rec.record(call(3000, { ...dep, requestId: "poison" }));
    for (let i = 1; i < 4; i++) rec.record(call(3000 + i, dep));
    for (let i = 0; i < 3; i++) await rec.flush();
    await rec.close();
    assert.equal(await counter(registry, "dropped"), 2, "the poisoned batch of 2");
    assert.equal((await store.listRuns("dep-4", {}, { limit: 100 })).items.length, 2);
  });

  it("keeps each deployment's newest maxPerDeployment runs as it writes them, not only at the sweep; another deployment's are untouched", async () => {
    const registry = new Registry();
    const other = { route: { deploymentId: "dep-6", projectId: "p-1", kind: "http" as const } };
    const theirs = new BufferedRunRecorder({ store, registry: new Registry(), log: quiet, flushIntervalMs: 60_000 });
    for (let i = 0; i < 40; i++) theirs.record(call(5000 + i, other));
    await theirs.close();
    const rec = new BufferedRunRecorder({ store, registry, log: quiet, batchSize: 7, flushIntervalMs: 60_000, maxPerDeployment: 10 });
    const dep = { route: { deploymentId: "dep-5", projectId: "p-1", kind: "http" as const } };
    for (let i = 0; i < 100; i++) rec.record(call(4000 + i, dep));
    await rec.close();
    const kept = (await store.listRuns("dep-5", {}, { limit: 100 })).items.map((r) => r.requestId);
    assert.deepEqual(kept, Array.from({ length: 10 }, (_, i) => `req-${4099 - i}`), "the newest ten");
    assert.equal((await store.listRuns("dep-6", {}, { limit: 100 })).items.length, 40, "dep-6's history is not dep-5's to trim");
    assert.equal(await counter(registry, "written"), 100);
  });
});
