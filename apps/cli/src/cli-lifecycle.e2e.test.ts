import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { fixturePath, loadFixture, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { runCli, type CliResult } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

/**
 * A deployment's whole life driven by the `flowplane` binary against a running server: deploy
 * (flags, credentials from a file), wait, inspect, invoke over HTTP (plain and streamed), MCP
 * client configuration, edit a credential from stdin, change version, scale, events, undeploy.
 * The model behind the flow is the fake OpenAI server, so answers are predictable.
 */
describe("a deployment's whole life from the CLI", { timeout: 300_000 }, () => {
  let server: TestServer;
  let llm: FakeOpenAI;
  let home: string;
  let id: string;
  const fp = (args: string[], input?: string): Promise<CliResult> => runCli(args, {
    env: { HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: server.adminKey, FLOWPLANE_PROJECT: "life" },
    input, cwd: home,
  });
  const ok = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const json = async (args: string[]) => JSON.parse(ok(await fp([...args, "-o", "json"])).stdout);
  const lastAuth = () => llm.requests.filter((r) => r.path.includes("chat/completions")).at(-1)?.headers.authorization;

  before(async () => {
    llm = await startFakeOpenAI();
    server = await startTestServer({ FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl });
    home = await mkdtemp(join(tmpdir(), "fp-cli-life-"));
    ok(await fp(["projects", "create", "life"]));
    // v1 streams the model's answer (the LLM component's `stream` switch), so --stream shows tokens.
    const streaming = loadFixture("memory-chatbot") as { data: { nodes: { data: { type: string; node: { template: Record<string, { value?: unknown }> } } }[] } };
    streaming.data.nodes.find((n) => n.data.type === "LanguageModelComponent")!.data.node.template.stream!.value = true;
    await writeFile(join(home, "streaming-chat.json"), JSON.stringify(streaming));
    ok(await fp(["publish", join(home, "streaming-chat.json"), "--name", "chat", "--tag", "v1"]));
    ok(await fp(["publish", fixturePath("memory-chatbot"), "--name", "chat", "--tag", "v2", "--description", "second"]));
    await writeFile(join(home, "openai.key"), "sk-from-file\n", { mode: 0o600 });
  });

  after(async () => {
    await server?.stop();
    await llm?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("validates every step on the server first: its messages, exit 3, nothing deployed", async () => {
    const r = await fp(["deploy", "--name", "Chat", "--bundle", "chat@v1", "--credential", "OPENAI_API_KEY=@openai.key", "--replicas", "9", "--cpu-request", "2"]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /not valid \(step 3 Task Configuration\)/);
    assert.match(r.stderr, /resources\.replicas: replicas must be at most 5/);
    assert.match(r.stderr, /resources\.cpu\.request: request 2 exceeds limit 1000m/);
    const missing = await fp(["deploy", "--name", "Chat", "--bundle", "chat@v1"]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /step 2 Credentials[\s\S]*credentials\.OPENAI_API_KEY: a value for credential OPENAI_API_KEY is required/);
    // Step 1's missing field named as its flag (not as the request body's type).
    const unnamed = await fp(["deploy", "--bundle", "chat@v1", "--credential", "OPENAI_API_KEY=@openai.key"]);
    assert.equal(unnamed.code, 3);
    assert.match(unnamed.stderr, /step 1 Configure[\s\S]*displayName: displayName is required \(--name\)/);
    assert.doesNotMatch(unnamed.stderr, /request body/);
    const dry = ok(await fp(["deploy", "--name", "Chat", "--bundle", "chat@v1", "--credential", "OPENAI_API_KEY=@openai.key", "--dry-run"]));
    assert.match(dry.stdout, /nothing was deployed/);
    assert.deepEqual(await json(["list"]), []);
  });

  it("deploys with a credential from a file and --wait follows the phases until Ready", async () => {
    const r = ok(await fp(["deploy", "--name", "Chat", "--bundle", "chat@v1", "--credential", "OPENAI_API_KEY=@openai.key", "--wait"]));
    assert.match(r.stdout, /deployment "Chat" created: [0-9a-f-]{36}, chat@v1, phase Provisioning/);
    assert.match(r.stdout, /deployment "Chat" is Ready: 1\/1 replicas, generation 1/);
    assert.match(r.stderr, /Provisioning|Starting/, "progress lines on stderr");
    assert.match(r.stderr, /Ready .*RuntimeAvailable=True/);
    id = /created: ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
  });

  it("lists and gets the deployment as a table, JSON and YAML, credentials masked", async () => {
    const list = ok(await fp(["list"]));
    assert.match(list.stdout, /^NAME\s+ID\s+PHASE\s+READY\s+VERSION\s+ENDPOINT/);
    assert.match(list.stdout, new RegExp(`Chat\\s+${id}\\s+Ready\\s+1/1\\s+chat@v1\\s+http://127\\.0\\.0\\.1:\\d+/projects/`));
    const d = await json(["get", "Chat"]);
    assert.equal(d.id, id);
    assert.equal(d.status.phase, "Ready");
    assert.deepEqual(d.credentials, { OPENAI_API_KEY: "********" });
    const y = parseYaml(ok(await fp(["get", id, "-o", "yaml"])).stdout);
    assert.equal(y.endpoints.mcp, d.endpoints.mcp);
    const table = ok(await fp(["get", "Chat"])).stdout;
    assert.match(table, /Credentials: +OPENAI_API_KEY=\*{8}/);
    assert.match(table, /Tweaks: +permissive: any field but Langflow's protected ones/);
    assert.match(table, /Conditions:\n\s+TYPE\s+STATUS[\s\S]*RuntimeAvailable\s+True\s+AllReplicasReady/);
    assert.ok(!(list.stdout + table).includes("sk-from-file"));
  });

  it("invokes the flow through the gateway, plain, from stdin and streamed token by token", async () => {
    assert.equal(ok(await fp(["invoke", "Chat", "--input", "hello there"])).stdout, "Echo: hello there\n");
    assert.equal(lastAuth(), "Bearer sk-from-file", "the credential from the file reaches the model");
    assert.equal(ok(await fp(["invoke", "Chat", "--input", "-", "--stream"], "via stdin\n")).stdout, "Echo: via stdin\n");
    const events = ok(await fp(["invoke", "Chat", "Memory Chatbot", "--input", "one two three", "--stream", "-o", "json"])).stdout
      .trim().split("\n").map((l) => JSON.parse(l) as { event: string; data: { chunk?: string } });
    const tokens = events.filter((e) => e.event === "token").map((e) => e.data.chunk).join("");
    assert.ok(events.filter((e) => e.event === "token").length > 1, "several token events");
    assert.equal(tokens, "Echo: one two three");
    assert.equal(events.at(-1)?.event, "end");
    const wrong = await fp(["invoke", "Chat", "no-such-flow", "--input", "x"]);
    assert.equal(wrong.code, 5);
    assert.match(wrong.stderr, /no flow "no-such-flow" in this deployment \(it serves: Memory Chatbot/);
  });

  it("prints MCP client configuration for the deployment's MCP endpoint, with a placeholder or the key", async () => {
    const d = await json(["get", "Chat"]);
    const cursor = JSON.parse(ok(await fp(["mcp-config", "Chat", "--client", "cursor"])).stdout);
    assert.deepEqual(cursor.mcpServers[d.resourceName], { url: d.endpoints.mcp, headers: { "x-access-key": "<FLOWPLANE_ACCESS_KEY>" } });
    const claude = ok(await fp(["mcp-config", "Chat", "--client", "claude-desktop", "--include-key"]));
    const entry = JSON.parse(claude.stdout).mcpServers[d.resourceName];
    assert.equal(entry.command, "npx");
    assert.ok(entry.args.includes(d.endpoints.mcp));
    assert.equal(entry.env.FLOWPLANE_ACCESS_KEY, server.adminKey);
    const vscode = JSON.parse(ok(await fp(["mcp-config", "Chat", "--client", "vscode"])).stdout);
    assert.equal(vscode.servers[d.resourceName].type, "http");
    assert.equal(vscode.inputs[0].password, true);
    // The configured endpoint and header really are an MCP server: it lists the flow as a tool.
    const res = await fetch(d.endpoints.mcp, {
      method: "POST",
      headers: { "x-access-key": server.adminKey, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
    });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /"serverInfo"/);
  });

  it("edits a credential read from stdin and waits for the rolling restart; the new value is used", async () => {
    const r = ok(await fp(["edit", "Chat", "--credential", "OPENAI_API_KEY=-", "--wait"], "sk-from-stdin\n"));
    assert.match(r.stdout, /revision 2, generation 2 accepted/);
    assert.match(r.stdout, /is Ready: 1\/1 replicas, generation 2/);
    ok(await fp(["invoke", "Chat", "--input", "after edit"]));
    assert.equal(lastAuth(), "Bearer sk-from-stdin");
    assert.equal((await json(["get", "Chat"])).status.observedGeneration, 2);
  });

  it("changes the version and scales, each waiting until the new generation is Ready", async () => {
    ok(await fp(["set-version", "Chat", "v2", "--wait"]));
    const v2 = await json(["get", "Chat"]);
    assert.deepEqual([v2.bundle.version, v2.generation, v2.status.observedGeneration], ["v2", 3, 3]);
    const missing = await fp(["set-version", "Chat", "v9"]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /bundle\.version: bundle chat has no version "v9"/);

    const scaled = JSON.parse(ok(await fp(["scale", "Chat", "--replicas", "2", "--wait", "-o", "json"])).stdout);
    assert.deepEqual([scaled.status.phase, scaled.status.readyReplicas, scaled.generation, scaled.revision], ["Ready", 2, 3, 3], "scaling is no new generation nor revision");
    assert.equal((await fp(["scale", "Chat", "--replicas", "6"])).code, 3);
  });

  it("--wait gives up with exit 7 at its timeout; waiting again without a change returns once Ready", async () => {
    // A value that is none of the three is named before anything is sent.
    const bad = await fp(["edit", "Chat", "--tweaks-policy", "strict"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--tweaks-policy strict: choose permissive, declared or off/);
    const r = await fp(["edit", "Chat", "--log-level", "debug", "--tweaks-policy", "off", "--wait", "--wait-timeout", "1ms"]);
    assert.equal(r.code, 7);
    assert.match(r.stderr, /timed out after 1ms waiting for "Chat" to be Ready; last status: /);
    // A scale is no new revision: it says so, and --wait still waits for the rollout above.
    const scaled = ok(await fp(["scale", "Chat", "--replicas", "1", "--wait"]));
    assert.match(scaled.stdout, /scaled to 1 replica\(s\); revision 4 stays, nothing restarts/);
    assert.match(scaled.stdout, /is Ready: 1\/1 replicas, generation 4/);
    assert.equal((await json(["get", "Chat"])).runtime.tweaksPolicy, "off", "--tweaks-policy on edit is part of the revision");
    assert.match(ok(await fp(["get", "Chat"])).stdout, /Tweaks: +off: none/);
    const again = ok(await fp(["scale", "Chat", "--replicas", "1", "--wait"]));
    assert.match(again.stdout, /nothing changed \(generation 4\)/);
    assert.match(again.stdout, /is Ready: 1\/1 replicas, generation 4/);
  });

  it("disables (the gateway answers 503) and enables again, waiting until Ready", async () => {
    const off = ok(await fp(["disable", "Chat"]));
    assert.match(off.stdout, /"Chat": disabled; the gateway answers 503 \(replicas kept warm\)/);
    const d = await json(["get", "Chat"]);
    assert.deepEqual([d.status.phase, d.disabled.stopReplicas], ["Disabled", false]);
    const waited = await fp(["scale", "Chat", "--replicas", "1", "--wait"]);
    assert.equal(waited.code, 7, "waiting for Ready on a disabled deployment ends at once");
    assert.match(waited.stderr, /"Chat" is disabled \(by admin\): `flowplane enable Chat` serves it again/);
    const on = ok(await fp(["enable", "Chat", "--wait"]));
    assert.match(on.stdout, /"Chat": enabled/);
    assert.match(on.stdout, /is Ready: 1\/1 replicas/);
    assert.equal((await json(["get", "Chat"])).disabled, null);
  });

  it("lists every accepted change and phase transition as events", async () => {
    const events = (await json(["events", "Chat"])) as { reason: string; message: string }[];
    assert.equal(events[0]?.reason, "Created");
    const changes = events.filter((e) => e.reason === "SpecChanged").map((e) => e.message);
    assert.equal(changes.length, 3);
    assert.equal(events.filter((e) => e.reason === "Scaled").length, 2, "scaling is its own event, not a revision");
    assert.match(changes[0]!, /credentials changed: OPENAI_API_KEY/);
    assert.match(changes[1]!, /version v1 -> v2/);
    assert.ok(!JSON.stringify(events).includes("sk-from"), "no credential value in events");
    assert.match(ok(await fp(["events", "Chat"])).stdout, /^TIME\s+TYPE\s+REASON\s+MESSAGE\n/);
  });

  it("manifests prints the server's answer: JSON, or its not-found message with exit 5 where the endpoint does not exist yet", async () => {
    const r = await fp(["manifests", "Chat"]);
    if (r.code === 0) {
      const kinds = (JSON.parse(r.stdout) as { kind: string }[]).map((o) => o.kind);
      assert.ok(kinds.includes("Namespace") && kinds.includes("Deployment"), kinds.join(", "));
      assert.ok(!r.stdout.includes("sk-from"), "secret values are redacted");
      assert.deepEqual((parseYaml(ok(await fp(["manifests", "Chat", "-o", "yaml"])).stdout) as { kind: string }[]).map((o) => o.kind), kinds);
    } else {
      assert.equal(r.code, 5);
      assert.match(r.stderr, /^error: no such endpoint: GET \/api\/v1\/projects\/.*\/manifests/);
    }
  });

  it("undeploys with --yes --wait: the endpoint then answers 404, the record stays readable by id", async () => {
    const before = await json(["get", "Chat"]);
    const r = ok(await fp(["undeploy", "Chat", "--yes", "--wait"]));
    assert.match(r.stdout, /undeploy requested[\s\S]*deployment "Chat" is undeployed/);
    assert.equal((await fetch(`${before.endpoints.http}/flows`, { headers: { "x-access-key": server.adminKey } })).status, 404);
    assert.deepEqual(await json(["list"]), []);
    const gone = await json(["get", id]);
    assert.ok(gone.deletedAt);
    assert.equal((await fp(["get", "Chat"])).code, 5);
    const invoke = await fp(["invoke", id, "--input", "x"]);
    assert.equal(invoke.code, 5);
    assert.match(invoke.stderr, /is undeployed/);
  });
});
