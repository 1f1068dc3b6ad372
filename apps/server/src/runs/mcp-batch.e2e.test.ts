import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { killAll, loadFixture, replicaPidsOf, waitFor } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "../test-process.js";

interface Run { requestId: string; route: string; tool: string | null; status: number }

/**
 * A JSON-RPC batch holding `tools/call` is refused by the replica (400, -32600: one request is
 * one metered run, apps/runtime/src/mcp.ts), so it ran no flow and is no run
 * (docs/runs-and-logs.md: a run is a flow run). The real server, its gateway workers (which turn
 * calls into runs, runs/call.ts) and a real replica; a single tools/call beside it is the control.
 */
describe("a refused MCP batch is no run (e2e)", { timeout: 240_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let project: string;
  let dep: { id: string; endpoints: { mcp: string } };
  let tool: string;

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${path}`, { method, headers: { "x-access-key": admin, "content-type": "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
  };
  const mcp = (body: string) => fetch(dep.endpoints.mcp, { method: "POST", headers: { "x-access-key": admin, "content-type": "application/json", accept: "application/json, text/event-stream" }, body });
  const toolCall = (id: number, input: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: tool, arguments: { input_value: input } } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-mcp-batch-"));
    server = await startServer(dir, { FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_GATEWAY_WORKERS: "2" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "mcp-batch" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const r = await api("POST", `/projects/${project}/deployments`, { displayName: "Batch", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await waitFor(async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json.status.phase === "Ready", { timeoutMs: 120_000, intervalMs: 200, message: "Ready" });
    const list = await mcp(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
    assert.equal(list.status, 200);
    tool = ((await list.json()) as { result: { tools: { name: string }[] } }).result.tools[0]!.name;
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
  });

  it("records the single tools/call, not the batches the replica refused (small, indented, or too large for the gateway to parse)", async () => {
    const batches = [
      JSON.stringify([toolCall(2, "one"), toolCall(3, "two")]),
      `\r\n\t [${JSON.stringify(toolCall(4, "indented"))}]`,
      // Over the 64 KiB the gateway parses (runs/call.ts): found by its first byte alone.
      JSON.stringify([toolCall(5, "x".repeat(70 * 1024))]),
    ];
    const refused: string[] = [];
    for (const body of batches) {
      const res = await mcp(body);
      assert.equal(res.status, 400, body.slice(0, 80));
      assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32600);
      refused.push(res.headers.get("x-request-id")!);
    }
    const single = await mcp(JSON.stringify(toolCall(6, "alone")));
    assert.equal(single.status, 200, await single.clone().text());
    await single.text();
    const ran = single.headers.get("x-request-id")!;
    // The runs arrive in order from one worker's batch, but the calls may have crossed two
    // workers: wait for the control, then a little longer for anything sent before it.
    const items = await waitFor(async () => {
      const r = (await api("GET", `/projects/${project}/deployments/${dep.id}/runs`)).json.items as Run[];
      return r.some((x) => x.requestId === ran) ? r : null;
    }, { timeoutMs: 10_000, intervalMs: 100, message: "the single tools/call's run" });
    await new Promise((r) => setTimeout(r, 1_500));
    const all = (await api("GET", `/projects/${project}/deployments/${dep.id}/runs`)).json.items as Run[];
    assert.ok(items.length <= all.length);
    assert.deepEqual(all.map((x) => [x.route, x.tool, x.status]), [["mcp", tool, 200]], "one run: the single call (tools/list is none)");
    for (const id of refused) assert.ok(!all.some((x) => x.requestId === id), `no run for the refused batch ${id}`);
  });
});
