import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { fixturePath } from "@flowplane/testkit";
import { GATEWAY_SECRET_HEADER } from "@flowplane/core";
import { gatewaySecretOf, principal, rawRequest, route, routeUrl, startGateway, startRuntime, type TestGateway } from "./test-harness.js";

/**
 * The gateway in front of the real runtime binary (simple-chat-no-llm: echoes its input),
 * started as a driver starts it: with the deployment's gateway secret, so it answers only
 * requests the gateway forwarded.
 */
describe("gateway: in front of a real runtime replica", () => {
  let g: TestGateway;
  let rt: Awaited<ReturnType<typeof startRuntime>>;
  let flowId: string;
  const KEY = { "x-access-key": "k", "content-type": "application/json" };
  const SECRET = gatewaySecretOf("dep");
  /** What only the gateway knows: the deployment's secret. */
  const DIRECT = { [GATEWAY_SECRET_HEADER]: SECRET };

  before(async () => {
    rt = await startRuntime(fixturePath("simple-chat-no-llm"), { gatewaySecret: SECRET });
    g = await startGateway();
    g.keys.set("k", principal("u1"));
    g.routes.set("http", route("http", { resourceName: "dep", deploymentId: "dep" }));
    g.routes.set("mcp", route("mcp", { kind: "mcp", resourceName: "dep", deploymentId: "dep" }));
    g.endpoints.set("dep", [rt.url]);
    flowId = ((await (await fetch(`${rt.url}/flows`, { headers: DIRECT })).json()) as { id: string }[])[0]!.id;
  });
  after(async () => {
    await g?.close();
    await rt?.stop();
  });

  test("the HTTP API answers through the gateway as it does directly", async () => {
    const direct = await (await fetch(`${rt.url}/flows`, { headers: DIRECT })).json();
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

  test("the replica refuses whoever is not the gateway; its probes stay open", async () => {
    for (const [method, path] of [["GET", "/flows"], ["GET", "/"], ["POST", `/flows/${flowId}/run`], ["POST", "/mcp"], ["GET", "/openapi.json"], ["GET", "/health/../flows"]] as const) {
      const none = await rawRequest(`${rt.url}${path}`, { method, headers: { "content-type": "application/json" }, body: method === "POST" ? "{}" : undefined });
      assert.equal(none.status, 401, `${method} ${path} without the secret`);
      assert.equal((JSON.parse(none.body) as { error: { code: string } }).error.code, "unauthenticated");
      const wrong = await rawRequest(`${rt.url}${path}`, { method, headers: { [GATEWAY_SECRET_HEADER]: `${SECRET}x`, "content-type": "application/json" }, body: method === "POST" ? "{}" : undefined });
      assert.equal(wrong.status, 401, `${method} ${path} with a wrong secret`);
    }
    const other = await fetch(`${rt.url}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: gatewaySecretOf("another-deployment") } });
    assert.equal(other.status, 401, "another deployment's secret opens nothing");
    assert.equal((await fetch(`${rt.url}/health`)).status, 200);
    assert.equal((await fetch(`${rt.url}/ready`)).status, 200);
  });

  test("a client cannot choose the secret the gateway sends: its own header is replaced", async () => {
    // A route of another deployment pointing at this replica: the gateway sends that deployment's secret, whatever the client says.
    g.routes.set("stray", route("stray", { resourceName: "dep", deploymentId: "other" }));
    const forged = await fetch(routeUrl(g, "stray", "/flows"), { headers: { ...KEY, [GATEWAY_SECRET_HEADER]: SECRET } });
    assert.equal(forged.status, 401);
    const ok = await fetch(routeUrl(g, "http", "/flows"), { headers: { ...KEY, [GATEWAY_SECRET_HEADER]: "junk" } });
    assert.equal(ok.status, 200);
    assert.ok(!g.logs.some((l) => l.includes(SECRET)), "the secret is in no log line");
  });

  test("a request whose headers the gateway accepts (16 KiB) is answered by the replica, whatever the gateway adds to them", async () => {
    // Just under Node's 16 KiB at the gateway; the gateway's own headers (secret, run id,
    // X-Forwarded-*) then take the head the replica reads past it. Before, the replica's parser
    // refused it: a 431 without a body, in no documented shape, passed on to the caller.
    const res = await rawRequest(routeUrl(g, "http", "/flows"), { headers: { ...KEY, "x-pad": "a".repeat(16_150) } });
    assert.equal(res.status, 200, `${res.status} ${JSON.stringify(res.body)}`);
  });

  test("a request with as many headers as the gateway keeps (Node's 1,000), then the gateway's own, is the gateway's to the replica", async () => {
    // The gateway forwards up to 1,000 of a caller's headers and adds its secret, run id and
    // X-Forwarded-* after them (headers.ts). A replica keeping Node's 1,000 dropped those, and
    // answered the gateway's own request 401 ("this replica answers only requests forwarded by
    // its gateway"); shown on the real server with 1,980 headers sent to a route.
    const callers = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`x-h${i}`, "1"]));
    const res = await rawRequest(`${rt.url}/flows`, { headers: { ...callers, ...DIRECT, "x-forwarded-prefix": "/p" } });
    assert.equal(res.status, 200, `${res.status} ${res.body}`);
  });

  test("MCP without a key is refused at the gateway", async () => {
    const client = new Client({ name: "gateway-test", version: "1" });
    await assert.rejects(client.connect(new StreamableHTTPClientTransport(new URL(routeUrl(g, "mcp")))), /unauthenticated/);
  });
});
