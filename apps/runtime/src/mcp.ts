import { randomUUID } from "node:crypto";
import { MCP_PATH, RUN_ERROR_HEADER, type Flow } from "@flowplane/core/replica";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { z as Zod } from "zod";
import { caller, runFlow, toHttp, HttpError, type HostContext } from "./http/context.js";
import type { RunCaller } from "./traces.js";
import { BodyError, send, type ErrorHandler, type Router } from "./http/routing.js";

/**
 * The MCP server: one tool per flow over streamable HTTP at /mcp. Stateless (no session id, a
 * new server and transport per request), so any replica can answer any call. The MCP SDK is
 * imported at the first MCP request, not at start: it is the runtime's heaviest dependency
 * (about 0.2 s and 10 MiB), and most replicas are only ever called over HTTP. zod (the tools'
 * input schemas, which the SDK itself needs) comes with it, for the same reason.
 */

interface Sdk {
  McpServer: typeof McpServer;
  Transport: typeof StreamableHTTPServerTransport;
  z: typeof Zod;
}

/** snake_case, at most 64 characters (what MCP clients accept), never empty. */
export function snakeCase(text: string): string {
  const s = text
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 60);
  return s || "flow";
}

export interface FlowTool {
  name: string;
  description: string;
  flow: Flow;
}

/** Tool names from `action_name` or the flow name; a collision gets `_2`, `_3`, … in flow order. */
export function flowTools(flows: readonly Flow[]): FlowTool[] {
  const taken = new Set<string>();
  return flows.map((flow) => {
    const base = snakeCase(flow.actionName ?? flow.name);
    let name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    const description = flow.actionDescription || flow.description || `Runs the Langflow flow "${flow.name}" on input_value and returns its answer as text.`;
    return { name, description, flow };
  });
}

function buildServer({ McpServer: Server, z }: Sdk, ctx: HostContext, caller: RunCaller): McpServer {
  const server = new Server({ name: "flowplane-runtime", version: "1.0.0" });
  for (const tool of flowTools(ctx.state.flows.map((f) => f.flow))) {
    server.registerTool(tool.name, { description: tool.description, inputSchema: { input_value: z.string().describe("The input passed to the flow") } }, async ({ input_value }, extra) => {
      try {
        // The SDK aborts `extra.signal` when the transport closes (the client left, its request's
        // response closed): the run is cancelled then, as an HTTP run is (http/context.ts RunCanceller).
        // A conversation of its own per call, as Langflow's MCP server runs each tool call
        // (session_id = uuid4()): with the flow's id as session, every client of the deployment,
        // whatever its key, read and wrote one chat history. Never continued, it is dropped when
        // the call ends: otherwise MCP calls would push HTTP callers' histories out of the
        // native engine's bounded store (1,000 sessions).
        const request = { inputValue: input_value, inputType: "chat", outputType: "chat", sessionId: randomUUID(), forgetSession: true } as const;
        const result = await runFlow(ctx, caller, tool.flow.id, request, undefined, extra.signal);
        const text = result.chat?.text ?? "No response generated";
        return { content: [{ type: "text" as const, text }], isError: result.chat === null };
      } catch (err) {
        return { content: [{ type: "text" as const, text: toHttp(err).body.error.message }], isError: true };
      }
    });
  }
  return server;
}

/**
 * A JSON-RPC batch holding a `tools/call`: refused. The gateway meters a call as one request
 * (deployment and per-key rate and concurrency limits) and records it as one run (runs/call.ts),
 * so a batch of 100 tool calls (the SDK's own ceiling) ran 100 flows for one token of a key
 * limited to 1 a second and one run in the history, without its tool. MCP 2025-06-18 removed
 * batching, and the SDK clients send one message per request; a batch without a tool call
 * (`tools/list`, `ping`) still goes to the SDK.
 */
export function batchRunsTools(body: unknown): boolean {
  return Array.isArray(body) && body.some((m) => m !== null && typeof m === "object" && (m as { method?: unknown }).method === "tools/call");
}
const BATCHED_TOOL_CALL = {
  jsonrpc: "2.0", id: null,
  error: { code: -32600, message: "Invalid Request: a JSON-RPC batch may not hold tools/call; send each tool call as a request of its own" },
} as const;

/**
 * Every refusal on `POST /mcp` as a JSON-RPC error (`id: null`), with the SDK's own codes and
 * words where it has them: the runtime reads and parses the body before the SDK sees it, so a body
 * it refuses (not JSON, empty, another media type, over the limit) never reached the SDK, and an
 * MCP client got the product's `{"error": {code, message}}`, which it cannot read as a JSON-RPC
 * answer. The product's code still goes in RUN_ERROR_HEADER, for the gateway's run history.
 */
function rpcError(err: unknown): { status: number; code: number; message: string; product: string } {
  if (err instanceof BodyError) {
    if (err.code === "invalid_json" || err.code === "empty_json") return { status: 400, code: -32700, message: "Parse error: Invalid JSON", product: "bad_request" };
    if (err.code === "unsupported_media_type") return { status: 415, code: -32000, message: "Unsupported Media Type: Content-Type must be application/json", product: "bad_request" };
    return { status: 413, code: -32000, message: "Payload too large: the request body is larger than allowed", product: "payload_too_large" };
  }
  const { status, body } = toHttp(err);
  return { status, code: status >= 500 && status !== 503 ? -32603 : -32000, message: status >= 500 && status !== 503 ? "Internal error" : body.error.message, product: body.error.code };
}

export function registerMcp(app: Router, ctx: HostContext): void {
  const onError: ErrorHandler = (err, req, res) => {
    const e = rpcError(err);
    if (e.status >= 500 && e.status !== 503) ctx.log.error({ requestId: req.id, error: err instanceof Error ? err.message : String(err) }, "request failed");
    if (e.status === 503) res.setHeader("retry-after", "1");
    res.setHeader(RUN_ERROR_HEADER, e.product);
    send(res, e.status, { jsonrpc: "2.0", error: { code: e.code, message: e.message }, id: null });
  };
  // The SDK's server and transport, loaded once, at the first MCP request.
  let sdk: Promise<Sdk> | undefined;
  const loadSdk = () => (sdk ??= Promise.all([import("@modelcontextprotocol/sdk/server/mcp.js"), import("@modelcontextprotocol/sdk/server/streamableHttp.js"), import("zod")])
    .then(([m, t, zod]) => ({ McpServer: m.McpServer, Transport: t.StreamableHTTPServerTransport, z: zod.z })));
  // A JSON-RPC message is the request: an empty body stays a parse error (-32700), as the SDK answers it.
  app.add({ method: "POST", path: MCP_PATH, onError, bodyRequired: true, handler: async (req, res) => {
    if (!ctx.state.ready) throw new HttpError(503, "not_ready", "the runtime is still loading its flows");
    if (batchRunsTools(req.body)) return send(res, 400, BATCHED_TOOL_CALL);
    const loaded = await loadSdk();
    const server = buildServer(loaded, ctx, caller(req));
    const transport = new loaded.Transport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req.raw, res, req.body);
  } });
  // Stateless: no server-initiated stream and no session to delete.
  const notAllowed = (_req: unknown, res: Parameters<typeof send>[0]) => {
    res.setHeader("allow", "POST");
    send(res, 405, { jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed: this MCP server is stateless; use POST" }, id: null });
  };
  app.add({ method: "GET", path: MCP_PATH, handler: notAllowed });
  app.add({ method: "DELETE", path: MCP_PATH, handler: notAllowed });
}
