import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { LangflowClient } from "@datastax/langflow-client";
import { LangflowError } from "@datastax/langflow-client/errors";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { lfxSkipReason } from "@flowplane/engine-lfx";
import { repoRoot } from "@flowplane/testkit";
import { CHAT_FLOW, CHAT_OUTPUT, LLM_NODE, NAMED_FLOW, startCompatWorld, type CompatWorld, type Engine } from "./compat-harness.js";
import { mcpPythonSkipReason, runPythonClient } from "./python-client.js";

const run = promisify(execFile);

/**
 * Clients nobody here wrote, unmodified, against real deployments on each engine through the
 * real gateway: Langflow's JavaScript client, the official MCP SDK clients (TypeScript and
 * Python), the MCP Inspector CLI, and curl with each way of sending the key.
 */
const lfxSkip = lfxSkipReason(process.env);
const engines: Engine[] = lfxSkip ? ["native"] : ["native", "lfx"];
const pySkip = mcpPythonSkipReason(process.env);

describe("client compatibility (e2e)", { timeout: 900_000 }, () => {
  let world: CompatWorld;
  before(async () => {
    world = await startCompatWorld(engines);
  });
  after(async () => {
    await world?.close();
  });

  it("covers the lfx engine (skipped only where lfx is not installed, never in CI)", { skip: lfxSkip }, () => {
    assert.deepEqual(engines, ["native", "lfx"]);
  });

  for (const engine of ["native", "lfx"] as const) {
    describe(`on ${engine}`, { skip: engine === "lfx" ? lfxSkip : false }, () => {
      const dep = () => world.deployments[engine];
      const lf = () => new LangflowClient({ baseUrl: dep().endpoints.http, apiKey: world.key });

      it("@datastax/langflow-client: run, tweaks, session, errors (its x-api-key header)", async () => {
        const flow = lf().flow(CHAT_FLOW);
        const first = await flow.run("hello", { session_id: `lf-${engine}` });
        assert.equal(first.chatOutputText(), "Echo: hello");
        assert.equal(first.sessionId, `lf-${engine}`);
        const out = first.outputs[0]!.outputs[0] as Record<string, unknown>;
        for (const k of ["results", "artifacts", "outputs", "logs", "messages", "timedelta", "duration", "component_display_name", "component_id", "used_frozen_result", "token_usage"]) {
          assert.ok(k in out, `ResultData.${k}`);
        }
        const message = (out.results as { message: Record<string, unknown> }).message;
        for (const k of ["text", "sender", "sender_name", "session_id", "run_id", "timestamp", "flow_id", "properties", "content_blocks", "session_metadata"]) assert.ok(k in message, `message.${k}`);
        assert.equal(message.flow_id, CHAT_FLOW);
        assert.match(String(message.timestamp), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} UTC$/);
        assert.deepEqual(message.content_blocks, [], "content_blocks in Langflow's v1 shape");
        // The session's memory is used: the second turn's prompt holds the first turn. (lfx serve
        // keeps no messages between runs: docs/langflow-compatibility.md.)
        await flow.run("again", { session_id: `lf-${engine}` });
        const prompt = JSON.stringify(world.llm.requests.at(-1)?.body);
        if (engine === "native") assert.ok(prompt.includes("hello") && prompt.includes("again"), prompt);
        // Tweaks by node id: the answer carries the tweaked sender name and the flow's own id.
        const tweaked = await lf().flow(CHAT_FLOW).tweak(CHAT_OUTPUT, { sender_name: "Tweaked" }).run("tweak me");
        const tm = (tweaked.outputs[0]!.outputs[0] as { results: { message: { sender_name: string; flow_id: string } } }).results.message;
        assert.deepEqual([tweaked.chatOutputText(), tm.sender_name, tm.flow_id], ["Echo: tweak me", "Tweaked", CHAT_FLOW]);
        // By endpoint name too, as Langflow resolves it.
        assert.equal((await lf().flow("named-chatbot").run("by name")).chatOutputText(), "Echo: by name");
        // Errors: LangflowError with Langflow's status and {"detail": ...} body.
        const failure = async (p: Promise<unknown>): Promise<{ status: number; body: unknown }> => {
          const err = await p.then(() => assert.fail("expected a LangflowError"), (e: unknown) => e);
          assert.ok(err instanceof LangflowError, String(err));
          return { status: err.cause.status, body: await err.cause.json() };
        };
        assert.deepEqual(await failure(lf().flow("no-such-flow").run("x")), { status: 404, body: { detail: "Flow identifier no-such-flow not found" } });
        const failed = await failure(lf().flow(CHAT_FLOW).run("[[fail]]"));
        assert.equal(failed.status, 500);
        assert.match((JSON.parse((failed.body as { detail: string }).detail) as { message: string }).message, /fake failure/);
        const wrongKey = new LangflowClient({ baseUrl: dep().endpoints.http, apiKey: "not-a-key" });
        await assert.rejects(wrongKey.flow(CHAT_FLOW).run("x"), (err: unknown) => err instanceof LangflowError && err.cause.status === 401);
      });

      it("@datastax/langflow-client: token streaming, add_message and end events", async () => {
        const stream = await lf().flow(CHAT_FLOW).tweak(LLM_NODE, { stream: true }).stream("one two three", { session_id: `st-${engine}` });
        const events: { event: string; data: Record<string, unknown> }[] = [];
        for await (const e of stream as unknown as AsyncIterable<{ event: string; data: Record<string, unknown> }>) events.push(e);
        const tokens = events.filter((e) => e.event === "token");
        assert.ok(tokens.length > 1, `several token events: ${JSON.stringify(events.map((e) => e.event))}`);
        assert.equal(tokens.map((e) => e.data.chunk).join(""), "Echo: one two three");
        const messages = events.filter((e) => e.event === "add_message");
        assert.ok(messages.length >= 1);
        for (const m of messages) assert.equal(m.data.flow_id, CHAT_FLOW, "never an internal variant id");
        const end = events.at(-1)!;
        assert.equal(end.event, "end");
        assert.equal((end.data.result as { session_id: string }).session_id, `st-${engine}`);
      });

      it("Langflow's request fields: user_id accepted, X-LANGFLOW-GLOBAL-VAR-* as request variables, credentials refused", async () => {
        const post = (headers: Record<string, string>, body: unknown = { input_value: "hi", user_id: "end-user-7" }) =>
          fetch(`${dep().endpoints.http}/api/v1/run/${NAMED_FLOW}`, { method: "POST", headers: { "x-api-key": world.key, "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
        const sender = async (r: Response) => ((await r.json()) as { outputs: { outputs: { results: { message: { sender_name: string } } }[] }[] }).outputs[0]!.outputs[0]!.results.message.sender_name;
        const plain = await post({});
        assert.equal(plain.status, 200);
        assert.equal(await sender(plain), "Deployed Bot");
        const overridden = await post({ "X-LANGFLOW-GLOBAL-VAR-BOT_NAME": "Header Bot" });
        assert.equal(overridden.status, 200);
        assert.equal(await sender(overridden), "Header Bot");
        const calls = world.llm.requests.length;
        const refused = await post({ "X-LANGFLOW-GLOBAL-VAR-OPENAI_API_KEY": "sk-attacker" });
        assert.equal(refused.status, 400);
        assert.match(((await refused.json()) as { detail: string }).detail, /OPENAI_API_KEY/);
        // Nor redirected: a name no flow declares (here the model's base URL, which would carry the
        // deployment's key elsewhere) is refused too.
        const redirect = await post({ "X-LANGFLOW-GLOBAL-VAR-OPENAI_API_BASE": "http://127.0.0.1:9/v1" });
        assert.equal(redirect.status, 400);
        assert.match(((await redirect.json()) as { detail: string }).detail, /OPENAI_API_BASE/);
        assert.equal(world.llm.requests.length, calls, "the refused runs never reached a model");
        const invalid = await post({}, { input_value: 5 });
        assert.equal(invalid.status, 422);
        assert.deepEqual(await invalid.json(), { detail: [{ type: "string_type", loc: ["body", "input_value"], msg: "Input should be a valid string" }] });
      });

      it("MCP TypeScript SDK: initialize, tools/list, tools/call, a failure as isError (the /mcp URL, x-api-key)", async () => {
        assert.ok(dep().endpoints.mcp.endsWith("/mcp"));
        const client = new Client({ name: "compat-ts", version: "1.0.0" });
        await client.connect(new StreamableHTTPClientTransport(new URL(dep().endpoints.mcp), { requestInit: { headers: { "x-api-key": world.key } } }));
        try {
          assert.equal(client.getServerVersion()?.name, "flowplane-runtime");
          const { tools } = await client.listTools();
          assert.deepEqual(tools.map((t) => t.name).sort(), ["memory_chatbot", "named_chatbot"]);
          const ok = (await client.callTool({ name: "memory_chatbot", arguments: { input_value: "over mcp" } })) as { content: { type: string; text: string }[]; isError?: boolean };
          assert.deepEqual([ok.isError ?? false, ok.content[0]?.text], [false, "Echo: over mcp"]);
          const failed = (await client.callTool({ name: "memory_chatbot", arguments: { input_value: "[[fail]]" } })) as { content: { text: string }[]; isError?: boolean };
          assert.equal(failed.isError, true);
          assert.match(failed.content[0]!.text, /fake failure/);
        } finally {
          await client.close();
        }
        // The bare route is the same endpoint.
        const bare = new Client({ name: "compat-ts", version: "1.0.0" });
        await bare.connect(new StreamableHTTPClientTransport(new URL(dep().endpoints.mcp.replace(/\/mcp$/, "")), { requestInit: { headers: { "x-access-key": world.key } } }));
        assert.equal((await bare.listTools()).tools.length, 2);
        await bare.close();
      });

      it("MCP Python SDK (mcp from PyPI): initialize, tools/list, tools/call, a failure as isError", { skip: pySkip }, async () => {
        const out = await runPythonClient(dep().endpoints.mcp, { "x-access-key": world.key });
        assert.equal(out.server, "flowplane-runtime");
        assert.deepEqual(out.tools.sort(), ["memory_chatbot", "named_chatbot"]);
        assert.deepEqual(out.ok, { isError: false, text: "Echo: from python" });
        assert.equal(out.failed.isError, true);
        assert.match(out.failed.text, /fake failure/);
      });

      it("MCP Inspector CLI 0.15 (rewrites URLs not ending in /mcp; no header option): the /mcp URL with ?x-api-key", async () => {
        const bin = join(repoRoot, "node_modules", ".bin", "mcp-inspector");
        const url = `${dep().endpoints.mcp}?x-api-key=${encodeURIComponent(world.key)}`;
        const list = await run(bin, ["--cli", url, "--method", "tools/list"], { timeout: 60_000 });
        const names = (JSON.parse(list.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name).sort();
        assert.deepEqual(names, ["memory_chatbot", "named_chatbot"]);
        const call = await run(bin, ["--cli", url, "--method", "tools/call", "--tool-name", "memory_chatbot", "--tool-arg", "input_value=inspected"], { timeout: 60_000 });
        assert.deepEqual((JSON.parse(call.stdout) as { content: { text: string }[] }).content[0]!.text, "Echo: inspected");
      });

      it("curl: x-access-key, x-api-key, Authorization: Bearer and ?x-api-key= all run the flow; a wrong key is 401", async () => {
        const url = `${dep().endpoints.http}/api/v1/run/${CHAT_FLOW}`;
        const forms: string[][] = [
          ["-H", `x-access-key: ${world.key}`, url],
          ["-H", `x-api-key: ${world.key}`, url],
          ["-H", `Authorization: Bearer ${world.key}`, url],
          [`${url}?x-api-key=${encodeURIComponent(world.key)}`],
        ];
        for (const form of forms) {
          const r = await run("curl", ["-sS", "-w", "\n%{http_code}", "-X", "POST", "-H", "content-type: application/json", "-d", '{"input_value":"curled"}', ...form]);
          const [body, status] = [r.stdout.slice(0, r.stdout.lastIndexOf("\n")), r.stdout.slice(r.stdout.lastIndexOf("\n") + 1)];
          assert.equal(status, "200", `${form[0]}: ${body}`);
          assert.equal((JSON.parse(body) as { outputs: { outputs: { results: { message: { text: string } } }[] }[] }).outputs[0]!.outputs[0]!.results.message.text, "Echo: curled");
        }
        const bad = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "x-api-key: wrong", url]);
        assert.equal(bad.stdout, "401");
      });
    });
  }
});
