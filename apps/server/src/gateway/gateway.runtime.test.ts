import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { fixturePath } from "@flowplane/testkit";
import { principal, route, routeUrl, startGateway, startRuntime, type TestGateway } from "./test-harness.js";

/** The gateway in front of the real runtime binary (simple-chat-no-llm: echoes its input). */
describe("gateway: in front of a real runtime replica", () => {
  let g: TestGateway;
  let rt: Awaited<ReturnType<typeof startRuntime>>;
  let flowId: string;
  const KEY = { "x-access-key": "k", "content-type": "application/json" };

  before(async () => {
    rt = await startRuntime(fixturePath("simple-chat-no-llm"));
    g = await startGateway();
    g.keys.set("k", principal("u1"));
    g.routes.set("http", route("http", { resourceName: "dep" }));
    g.routes.set("mcp", route("mcp", { kind: "mcp", resourceName: "dep" }));
    g.endpoints.set("dep", [rt.url]);
    flowId = ((await (await fetch(`${rt.url}/flows`)).json()) as { id: string }[])[0]!.id;
  });
  after(async () => {
    await g?.close();
    await rt?.stop();
  });

  test("the HTTP API answers through the gateway as it does directly", async () => {
    const direct = await (await fetch(`${rt.url}/flows`)).json();
    const via = await fetch(routeUrl(g, "http", "/flows"), { headers: KEY });
    assert.equal(via.status, 200);
    assert.deepEqual(await via.json(), direct);
    const run = await fetch(routeUrl(g, "http", `/flows/${flowId}/run`), { method: "POST", headers: KEY, body: JSON.stringify({ input_value: "through the gateway" }) });
    assert.equal(run.status, 200);
    assert.equal(((await run.json()) as { result: string }).result, "through the gateway");
    const index = await fetch(routeUrl(g, "http"), { headers: KEY });
    assert.match(await index.text(), /Welcome to Langflow Runtime/);
  });

  test("streamed runs arrive as event streams, on both stream endpoints", async () => {
    for (const path of [`/flows/${flowId}/stream`, `/api/v1/run/${flowId}?stream=true`]) {
      const res = await fetch(routeUrl(g, "http", path), { method: "POST", headers: KEY, body: JSON.stringify({ input_value: "streamed" }) });
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/, path);
      const text = await res.text();
      assert.match(text, /"event":"add_message"/, path);
      assert.match(text, /"event":"end"/, path);
      assert.match(text, /streamed/, path);
    }
  });

  test("the runtime's own errors pass through unchanged", async () => {
    const res = await fetch(routeUrl(g, "http", "/flows/no-such-flow/run"), { method: "POST", headers: KEY, body: "{}" });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "not_found");
  });

  test("MCP through the gateway with the official SDK client and the key in a header", async () => {
    const client = new Client({ name: "gateway-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(routeUrl(g, "mcp")), { requestInit: { headers: { "x-access-key": "k" } } }));
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ["simple_chat_no_llm"]);
      const out = await client.callTool({ name: "simple_chat_no_llm", arguments: { input_value: "via mcp" } });
      assert.deepEqual(out.content, [{ type: "text", text: "via mcp" }]);
    } finally {
      await client.close();
    }
  });

  test("MCP without a key is refused at the gateway", async () => {
    const client = new Client({ name: "gateway-test", version: "1" });
    await assert.rejects(client.connect(new StreamableHTTPClientTransport(new URL(routeUrl(g, "mcp")))), /unauthenticated/);
  });
});
