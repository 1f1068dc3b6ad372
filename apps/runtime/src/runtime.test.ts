import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, copyFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleDigest } from "@flowplane/core";
import { fixturePath, loadFixture, startHttpServer } from "@flowplane/testkit";
import { spawnRuntime, type RuntimeProcess } from "./test-process.js";

// The runtime binary over a folder of no-LLM fixtures, exercised over real HTTP.
const SIMPLE_API = "1e3eea9b-d466-4fba-b0d9-08901143df3e";
const MEMORY = "26c412c9-9e4a-406d-aadb-ef9a81badb3f";
let rt: RuntimeProcess;
let base: string;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "fp-bundle-"));
  for (const f of ["simple-chat-no-llm", "simple-api-test", "memory-chatbot-no-llm"]) copyFileSync(fixturePath(f), join(dir, `${f}.json`));
  rt = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_MAX_BODY_BYTES: "4096", FLOWPLANE_REVISION: "4" });
  base = await rt.waitReady();
});
after(async () => {
  assert.equal(await rt.stop(), 0);
});

const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

test("every answer names the revision the replica was started for (FLOWPLANE_REVISION)", async () => {
  for (const res of [await fetch(`${base}/flows`), await fetch(`${base}/no-such-route`), await post(`/api/v1/run/${SIMPLE_API}`, "{not json")]) {
    assert.equal(res.headers.get("x-flowplane-revision"), "4", `${res.url} ${res.status}`);
    await res.text();
  }
});

test("GET / lists the flows as name (id) and the endpoints", async () => {
  const res = await fetch(`${base}/`);
  assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
  const text = await res.text();
  assert.match(text, /^Welcome to Langflow Runtime/);
  assert.match(text, new RegExp(`Simple API Test \\(${SIMPLE_API}\\)`));
  assert.match(text, /\/api\/v1\/run/);
});

test("GET /flows and /flows/{id}/info describe the flows", async () => {
  const flows = (await (await fetch(`${base}/flows`)).json()) as { id: string; name: string; endpoint_name: unknown }[];
  assert.deepEqual(flows.map((f) => f.name).sort(), ["MemoryChatbotNoLLM", "Simple API Test", "SimpleChatNoLLM"]);
  const info = (await (await fetch(`${base}/flows/${SIMPLE_API}/info`)).json()) as { input_schema: { required: string[] }; input_components: string[] };
  assert.deepEqual(info.input_schema.required, ["input_value"]);
  assert.deepEqual(info.input_components, ["ChatInput-3OQi9"]);
});

test("POST /flows/{id}/run answers lfx serve's shape, with either body form", async () => {
  for (const body of [{ input_value: "ping" }, { inputs: { input_value: "ping" } }]) {
    const res = await post(`/flows/${SIMPLE_API}/run`, body);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { result: "ping", success: true, logs: "", type: "message", component: "Chat Output" });
  }
});

test("POST /api/v1/run answers Langflow's shape and keeps sessions", async () => {
  const res = await post(`/api/v1/run/${MEMORY}`, { input_value: "I am Ada", session_id: "s-1" });
  const body = (await res.json()) as { session_id: string; outputs: { inputs: unknown; outputs: Record<string, unknown>[] }[] };
  assert.equal(body.session_id, "s-1");
  assert.deepEqual(body.outputs[0]?.inputs, { input_value: "I am Ada" });
  const out = body.outputs[0]?.outputs[0] ?? {};
  for (const k of ["results", "artifacts", "outputs", "logs", "messages", "component_display_name", "component_id", "used_frozen_result", "token_usage"]) assert.ok(k in out, k);
  const again = (await (await post(`/api/v1/run/${MEMORY}`, { input_value: "who?", session_id: "s-1" })).json()) as typeof body;
  assert.match((again.outputs[0]?.outputs[0]?.results as { message: { text: string } }).message.text, /^User: I am Ada\n/);
  const fresh = (await (await post(`/api/v1/run/${MEMORY}`, { input_value: "who?" })).json()) as typeof body;
  assert.equal(fresh.session_id, MEMORY, "the session defaults to the flow id");
});

test("?stream=true sends Langflow's events as bare JSON objects separated by blank lines", async () => {
  const res = await post(`/api/v1/run/${SIMPLE_API}?stream=true`, { input_value: "hey" });
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const text = await res.text();
  assert.ok(text.endsWith("\n\n"));
  const events = text.trim().split("\n\n").map((e) => JSON.parse(e) as { event: string; data: Record<string, unknown> });
  assert.deepEqual(events.map((e) => e.event), ["add_message", "add_message", "end"]);
  assert.equal((events[2]?.data.result as { session_id: string }).session_id, SIMPLE_API);
  const lfx = await (await post(`/flows/${SIMPLE_API}/stream`, { input_value: "x" })).text();
  const last = JSON.parse(lfx.trim().split("\n\n").at(-1) ?? "{}") as { event: string; data: { result: { result: string } } };
  assert.deepEqual([last.event, last.data.result.result], ["end", "x"]);
});

test("?stream given twice: the last value counts, as FastAPI reads a repeated query parameter", async () => {
  const last = await post(`/api/v1/run/${SIMPLE_API}?stream=true&stream=false`, { input_value: "x" });
  assert.match(last.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(((await last.json()) as { session_id: string }).session_id, SIMPLE_API);
  const streamed = await post(`/api/v1/run/${SIMPLE_API}?stream=false&stream=true`, { input_value: "x" });
  assert.match(streamed.headers.get("content-type") ?? "", /text\/event-stream/);
  await streamed.text();
  const junk = await post(`/api/v1/run/${SIMPLE_API}?stream=maybe&stream=true`, { input_value: "x" });
  assert.equal(junk.status, 200, "only the last value is read");
  await junk.text();
});

test("clear 4xx errors: unknown flow, malformed body, oversize body, invalid tweaks", async () => {
  const cases: [Response, number, string][] = [
    [await post(`/flows/nope/run`, { input_value: "x" }), 404, "not_found"],
    [await post(`/flows/${SIMPLE_API}/run`, "{oops"), 400, "bad_request"],
    [await post(`/flows/${SIMPLE_API}/run`, { session_id: "s" }), 400, "validation_failed"],
    [await post(`/flows/${SIMPLE_API}/run`, { input_value: "x".repeat(5000) }), 413, "payload_too_large"],
    // A request may not replace a credential, nor set a name no flow declares (a model's base URL would redirect its key).
    [await post(`/flows/${SIMPLE_API}/run`, { input_value: "x", global_vars: { OPENAI_API_KEY: "sk-caller" } }), 400, "validation_failed"],
    [await post(`/flows/${SIMPLE_API}/run`, { input_value: "x", global_vars: { OPENAI_API_BASE: "http://127.0.0.1:9" } }), 400, "validation_failed"],
  ];
  for (const [res, status, code] of cases) {
    assert.equal(res.status, status);
    const body = (await res.json()) as { error: { code: string; message: string; details: unknown } };
    assert.equal(body.error.code, code);
    assert.ok(body.error.message.length > 0);
    assert.ok("details" in body.error);
  }
  // Langflow's run API answers as Langflow 1.13 does: {"detail": ...}, FastAPI's 422 for a bad body.
  const langflow: [Response, number, unknown][] = [
    [await post(`/api/v1/run/nope`, { input_value: "x" }), 404, "Flow identifier nope not found"],
    [await post(`/api/v1/run/${SIMPLE_API}`, "{oops"), 422, [{ type: "json_invalid", loc: ["body", 0], msg: "JSON decode error" }]],
    [await post(`/api/v1/run/${SIMPLE_API}`, { input_type: "voice" }), 422, [{ type: "literal_error", loc: ["body", "input_type"], msg: "Input should be 'chat', 'text' or 'any'" }]],
    [await post(`/api/v1/run/${SIMPLE_API}?stream=maybe`, { input_value: "x" }), 422, [{ type: "bool_parsing", loc: ["query", "stream"], msg: "Input should be a valid boolean, unable to interpret input" }]],
    [await post(`/api/v1/run/${SIMPLE_API}`, { input_value: "x".repeat(5000) }), 413, "the request body is larger than allowed"],
  ];
  for (const [res, status, detail] of langflow) {
    assert.equal(res.status, status);
    assert.deepEqual(await res.json(), { detail });
  }
  const ghost = await post(`/api/v1/run/${SIMPLE_API}`, { input_value: "x", tweaks: { Ghost: { a: 1 } } });
  assert.equal(ghost.status, 400);
  assert.match(((await ghost.json()) as { detail: string }).detail, /Ghost/);
});

test("an empty body sent as application/json is no body, as Langflow (FastAPI) reads it: its run API runs the flow with its defaults, lfx's run route asks for input_value", async () => {
  // Many HTTP clients send Content-Type: application/json on every request, a body or not.
  const none = await fetch(`${base}/api/v1/run/${SIMPLE_API}`, { method: "POST" });
  const empty = await post(`/api/v1/run/${SIMPLE_API}`, "");
  assert.equal(empty.status, 200, await empty.clone().text());
  assert.equal(none.status, 200);
  const [a, b] = [(await empty.json()) as { session_id: string; outputs: unknown[] }, (await none.json()) as { session_id: string; outputs: unknown[] }];
  assert.equal(a.session_id, SIMPLE_API);
  assert.equal(a.outputs.length, b.outputs.length);
  // A route that needs a body answers as it does without one: the product's 400 naming the field.
  const lfx = await post(`/flows/${SIMPLE_API}/run`, "");
  assert.equal(lfx.status, 400);
  assert.deepEqual(((await lfx.json()) as { error: { code: string; details: unknown } }).error.details, [{ field: "input_value", message: "required (or inputs.input_value)" }]);
  // Only an empty body: white space is not JSON, and still FastAPI's 422.
  const blank = await post(`/api/v1/run/${SIMPLE_API}`, " ");
  assert.equal(blank.status, 422);
  await blank.text();
});

test("a protected field in the tweaks refuses the whole run, as Langflow 1.13 does: 422 TWEAKS_REFUSED on its run API, a validation error on lfx's", async () => {
  const REASON = "The field is protected and keeps the value set by the flow author.";
  const refused = { detail: { error: "Refused tweaks", code: "TWEAKS_REFUSED", message: REASON, fields: ["code"] } };
  // A component's code, beside a tweak that alone would apply: nothing of the request applies.
  const tweaks = { "TextInput-eFiZp": { input_value: "Tweaked" }, "ChatOutput-J6aor": { code: "import os; os.system('id')" } };
  for (const path of [`/api/v1/run/${SIMPLE_API}`, `/api/v1/run/${SIMPLE_API}?stream=true`]) {
    const res = await post(path, { input_value: "x", tweaks });
    assert.equal(res.status, 422, path);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/, `${path}: refused before any stream opens`);
    assert.deepEqual(await res.json(), refused, path);
  }
  // By display name, as an object merged into the field, and lfx's own import allow-list on no code component: only `code` is protected there.
  const byName = await post(`/api/v1/run/${SIMPLE_API}`, { input_value: "x", tweaks: { "Chat Output": { code: { value: "x = 1" } } } });
  assert.equal(byName.status, 422);
  assert.deepEqual(await byName.json(), refused);
  for (const path of [`/flows/${SIMPLE_API}/run`, `/flows/${SIMPLE_API}/stream`]) {
    const res = await post(path, { input_value: "x", tweaks });
    assert.equal(res.status, 400, path);
    const body = (await res.json()) as { error: { code: string; details: { field: string; message: string }[] } };
    assert.equal(body.error.code, "validation_failed", path);
    assert.deepEqual(body.error.details, [{ field: "tweaks.ChatOutput-J6aor.code", message: REASON }], path);
  }
  // The same tweak without the protected field runs, and applies.
  // (The Text Input feeds the Chat Output's sender name.)
  const ok = await post(`/api/v1/run/${SIMPLE_API}`, { input_value: "x", tweaks: { "TextInput-eFiZp": { input_value: "Tweaked" } } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /"sender_name":"Tweaked"/);
});

test("a known path asked with another method is 405 with Allow: Langflow's detail on its run API, the one error shape elsewhere", async () => {
  for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
    const res = await fetch(`${base}/api/v1/run/${SIMPLE_API}`, { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get("allow"), "POST");
    assert.deepEqual(await res.json(), { detail: "Method Not Allowed" }, method);
  }
  const lfx = await fetch(`${base}/flows/${SIMPLE_API}/run`);
  assert.equal(lfx.status, 405);
  assert.equal(lfx.headers.get("allow"), "POST");
  assert.equal(((await lfx.json()) as { error: { code: string } }).error.code, "method_not_allowed");
  const flows = await fetch(`${base}/flows`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.equal(flows.status, 405);
  assert.equal(flows.headers.get("allow"), "GET, HEAD");
  await flows.text();
  const none = await fetch(`${base}/api/v1/nothing-here`);
  assert.equal(none.status, 404, "a path no route has is still a 404");
  await none.text();
});

test("/docs and /openapi.json describe the contract", async () => {
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  for (const p of ["/flows", "/flows/{id}/run", "/api/v1/run/{id}", "/mcp"]) assert.ok(p in doc.paths, p);
  assert.equal((await fetch(`${base}/docs`)).status, 200);
});

test("a bundle served by URL is downloaded with the identity token read from its file and verified", async () => {
  const flows = [loadFixture("simple-chat-no-llm")];
  const digest = bundleDigest(flows);
  const seen: string[] = [];
  const server = await startHttpServer((req, res) => {
    seen.push(req.headers.authorization ?? "");
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ name: "b", versionTag: "v1", digest, flows }));
  });
  const tokenFile = join(mkdtempSync(join(tmpdir(), "fp-tok-")), "token");
  writeFileSync(tokenFile, "projected-token\n");
  const ok = spawnRuntime({ FLOWPLANE_BUNDLE_URL: `${server.url}/bundle`, FLOWPLANE_IDENTITY_TOKEN_FILE: tokenFile, FLOWPLANE_BUNDLE_DIGEST: digest, FLOWPLANE_BUNDLE_VERSION: "v1" });
  try {
    await ok.waitReady();
    assert.deepEqual(seen, ["Bearer projected-token"]);
    assert.equal(await ok.stop(), 0);
    assert.ok(!ok.output.join("\n").includes("projected-token"), "the token is never logged");

    const bad = spawnRuntime({ FLOWPLANE_BUNDLE_URL: `${server.url}/bundle`, FLOWPLANE_IDENTITY_TOKEN: "t", FLOWPLANE_BUNDLE_DIGEST: `sha256:${"0".repeat(64)}` });
    assert.equal(await bad.exited, 1);
    assert.match(bad.output.join("\n"), /bundle digest mismatch: expected sha256:0{64}/);
  } finally {
    await server.close();
  }
});

test("an unreachable bundle URL exits non-zero after the bounded retries", async () => {
  const server = await startHttpServer(() => undefined);
  const url = server.url;
  await server.close(); // nothing listens there any more
  const started = Date.now();
  const rtp = spawnRuntime({ FLOWPLANE_BUNDLE_URL: `${url}/bundle`, FLOWPLANE_IDENTITY_TOKEN: "t", FLOWPLANE_BUNDLE_RETRIES: "2", FLOWPLANE_BUNDLE_RETRY_BASE_MS: "20" });
  const base = await rtp.url;
  assert.equal((await fetch(`${base}/health`).catch(() => null))?.status ?? 200, 200);
  assert.equal(await rtp.exited, 1);
  const log = rtp.output.join("\n");
  assert.match(log, /failed after 3 attempts/);
  assert.equal(log.match(/retrying/g)?.length, 2);
  assert.ok(Date.now() - started < 8000);
});

test("with FLOWPLANE_PROBE_PORT, the probe listener answers /ready once the flows are loaded, as the main port does", async () => {
  const rtp = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: fixturePath("simple-chat-no-llm"), FLOWPLANE_PROBE_PORT: "0" });
  try {
    const main = await rtp.waitReady();
    const probeUrl = await rtp.probeUrl;
    // Up before the bundle loads, told the state at every change: ready, with the flows.
    const ready = await fetch(`${probeUrl}/ready`);
    assert.equal(ready.status, 200, await ready.text());
    assert.equal((await fetch(`${probeUrl}/health`)).status, 200);
    assert.equal((await fetch(`${main}/ready`)).status, 200);
  } finally {
    assert.equal(await rtp.stop(), 0);
  }
});

test("a start-up failure exits at once, its ports held until the exit, even with a client holding a half-sent request on the main port", async () => {
  // The bundle server answers 500 after a moment: time for a client to connect first.
  const slow = await startHttpServer((_req, res) => void setTimeout(() => res.writeHead(500).end(), 700));
  const { connect, createServer } = await import("node:net");
  let socket: import("node:net").Socket | undefined;
  try {
    const rtp = spawnRuntime({ FLOWPLANE_BUNDLE_URL: `${slow.url}/bundle`, FLOWPLANE_IDENTITY_TOKEN: "t", FLOWPLANE_BUNDLE_RETRIES: "0", FLOWPLANE_PROBE_PORT: "0" });
    const main = new URL(await rtp.url);
    const probe = new URL(await rtp.probeUrl);
    socket = connect(Number(main.port), main.hostname);
    socket.on("error", () => undefined);
    socket.write("POST /flows HTTP/1.1\r\nHost: x\r\n"); // headers never finished
    // Until the process is gone its ports are its own: a port it closed while alive was anyone's
    // to bind, and a gateway that had not yet seen it fail would have sent that one its calls.
    let exitedAt = 0;
    void rtp.exited.then(() => (exitedAt = Date.now()));
    const takenWhileAlive: number[] = [];
    const trying = (async () => {
      for (let i = 0; i < 400 && exitedAt === 0; i++) {
        for (const port of [Number(main.port), Number(probe.port)]) {
          const s = createServer();
          const bound = await new Promise<boolean>((res) => {
            s.once("error", () => res(false));
            s.listen(port, "127.0.0.1", () => res(true));
          });
          if (bound) {
            // Alive: not a zombie (a zombie has closed every descriptor) and not yet reaped.
            const state = (await readFile(`/proc/${rtp.child.pid}/stat`, "utf8").catch(() => "")).split(") ")[1]?.[0];
            if (state !== undefined && state !== "Z") takenWhileAlive.push(port);
            await new Promise((res) => s.close(res));
          }
        }
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    // Node's own headers timeout would hold the close for a minute or more.
    const code = await Promise.race([rtp.exited, new Promise((r) => setTimeout(() => r("still running after 10 s"), 10_000))]);
    if (code !== 1) await rtp.stop().catch(() => undefined);
    await trying;
    assert.equal(code, 1);
    assert.match(rtp.output.join("\n"), /"msg":"start-up failed"/);
    assert.deepEqual(takenWhileAlive, [], "no port of the replica was free while its process lived");
  } finally {
    socket?.destroy();
    await slow.close();
  }
});

test("an inherited descriptor that is no listening socket fails the start in one line naming its variable", async () => {
  // No descriptor 9 in the child (a wrapper that closed what the driver handed on).
  const rtp = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: fixturePath("simple-chat-no-llm"), FLOWPLANE_RUNTIME_FD: "9" });
  assert.equal(await rtp.exited, 1);
  const log = rtp.output.join("\n");
  assert.match(log, /"msg":"start-up failed"/);
  assert.match(log, /FLOWPLANE_RUNTIME_FD 9 is not a listening socket/);
  assert.doesNotMatch(log, /\n\s+at /, "no stack trace");
});

test("a probe port that cannot be had fails the start in one line, exit code 1, no stack trace", async () => {
  const taken = await startHttpServer(() => undefined);
  try {
    const rtp = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: fixturePath("simple-chat-no-llm"), FLOWPLANE_PROBE_PORT: new URL(taken.url).port });
    assert.equal(await rtp.exited, 1);
    const log = rtp.output.join("\n");
    assert.match(log, /"msg":"start-up failed"/);
    assert.match(log, /EADDRINUSE/);
    assert.doesNotMatch(log, /\n\s+at /, "no stack trace");
  } finally {
    await taken.close();
  }
});

test("a bundle that fails to load with a probe listener up fails the start in one line, exit code 1, no stack trace", async () => {
  const rtp = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: "/nonexistent/bundle.json", FLOWPLANE_PROBE_PORT: "0" });
  assert.equal(await rtp.exited, 1);
  const log = rtp.output.join("\n");
  assert.match(log, /"msg":"start-up failed"/);
  assert.match(log, /does not exist/);
  assert.doesNotMatch(log, /\n\s+at /, `no stack trace: ${log}`);
});

test("MCP: a JSON-RPC batch holding a tools/call is refused (one request is one metered run); a single call and a batch without one still work", async () => {
  const mcp = (body: unknown) => fetch(`${base}/mcp`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(body) });
  const call = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "simple_chat_no_llm", arguments: { input_value: `x${id}` } } });
  const batch = await mcp([call(1), call(2), call(3)]);
  assert.equal(batch.status, 400);
  const refused = (await batch.json()) as { error: { code: number; message: string } };
  assert.equal(refused.error.code, -32600);
  assert.match(refused.error.message, /tools\/call/);
  const mixed = await mcp([{ jsonrpc: "2.0", id: 1, method: "tools/list" }, call(2)]);
  assert.equal(mixed.status, 400);
  await mixed.text();
  const one = await mcp(call(7));
  assert.equal(one.status, 200);
  const answer = (await one.json()) as { result: { content: { text: string }[]; isError: boolean } };
  assert.deepEqual({ text: answer.result.content[0]!.text, isError: answer.result.isError }, { text: "x7", isError: false });
  const list = await mcp([{ jsonrpc: "2.0", id: 1, method: "tools/list" }, { jsonrpc: "2.0", id: 2, method: "ping" }]);
  assert.equal(list.status, 200);
  assert.equal(((await list.json()) as unknown[]).length, 2);
});

test("MCP: a body the runtime cannot take (not JSON, empty, another media type, over the limit) is answered as a JSON-RPC error, as the SDK answers its own", async () => {
  const mcp = (body: string, type = "application/json") => fetch(`${base}/mcp`, { method: "POST", headers: { "content-type": type, accept: "application/json, text/event-stream" }, body });
  const cases: [Response, number, number, RegExp][] = [
    [await mcp("{oops"), 400, -32700, /^Parse error/],
    [await mcp(""), 400, -32700, /^Parse error/],
    [await mcp('{"jsonrpc":"2.0","id":1,"method":"ping"}', "application/x-www-form-urlencoded"), 415, -32000, /^Unsupported Media Type/],
    [await mcp(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "simple_chat_no_llm", arguments: { input_value: "x".repeat(5000) } } })), 413, -32000, /too large/],
  ];
  for (const [res, status, code, message] of cases) {
    assert.equal(res.status, status);
    const body = (await res.json()) as { jsonrpc: string; id: unknown; error: { code: number; message: string } };
    assert.equal(body.jsonrpc, "2.0", JSON.stringify(body));
    assert.equal(body.id, null);
    assert.equal(body.error.code, code);
    assert.match(body.error.message, message);
  }
});

test("the main port closes a connection silent before its first request, and one dripping a request's headers, within seconds; a kept-alive gateway connection stays", async (t) => {
  const { connect } = await import("node:net");
  const main = new URL(base);
  const open = (): Promise<{ socket: import("node:net").Socket; closedAt: Promise<number> }> =>
    new Promise((resolve, reject) => {
      const socket = connect(Number(main.port), main.hostname);
      socket.on("error", () => undefined);
      const closedAt = new Promise<number>((r) => socket.once("close", () => r(Date.now())));
      socket.once("connect", () => resolve({ socket, closedAt }));
      socket.once("error", reject);
      t.after(() => socket.destroy());
    });
  const started = Date.now();
  const silent = await open();
  // Past its first request (so the first-request bound no longer holds it), then a second one's
  // headers dripped: Node's own headers bound (60 s by default) is what ends it.
  const dripping = await open();
  const first = new Promise<string>((r) => dripping.socket.once("data", (b) => r(String(b))));
  dripping.socket.write("GET /flows HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.match(await first, /^HTTP\/1\.1 200/);
  dripping.socket.write("GET /flows HTTP/1.1\r\nHost: x\r\n");
  const drip = setInterval(() => dripping.socket.destroyed || dripping.socket.write("x-drip: 1\r\n"), 500);
  // The gateway's way: a request at once, then the connection kept for the next one.
  const kept = await open();
  const answered = new Promise<string>((r) => kept.socket.once("data", (b) => r(String(b))));
  kept.socket.write("GET /flows HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.match(await answered, /^HTTP\/1\.1 200/);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<number>((r) => (timer = setTimeout(() => r(Infinity), 20_000)));
  try {
    const [silentAt, drippingAt] = await Promise.all([Promise.race([silent.closedAt, limit]), Promise.race([dripping.closedAt, limit])]);
    assert.ok(silentAt - started < 13_000, `a silent connection was closed (after ${silentAt - started} ms)`);
    assert.ok(drippingAt - started < 18_000, `a dripping connection was closed (after ${drippingAt - started} ms)`);
    assert.equal(kept.socket.destroyed, false, "the kept-alive connection outlived the first-request bound");
    const again = new Promise<string>((r) => kept.socket.once("data", (b) => r(String(b))));
    kept.socket.write("GET /flows HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(await again, /^HTTP\/1\.1 200/);
  } finally {
    clearInterval(drip);
    clearTimeout(timer);
  }
});
