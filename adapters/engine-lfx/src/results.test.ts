import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowRunError, parseFlow, type StreamEvent } from "@flowplane/core";
import { loadFixture } from "@flowplane/testkit";
import { RunCollector } from "./results.js";
import { parseFrame, readEvents, type LfxEvent } from "./sse.js";

// lfx's v2 stream (SSE frames of Langflow events) read and turned into the engine result.
const api = parseFlow(loadFixture("simple-api-test"));
const vertex = (id: string, text: string): LfxEvent => ({
  event: "end_vertex",
  data: { build_data: { id, valid: true, data: { results: { message: { text } }, outputs: {}, component_id: id, component_display_name: id.split("-")[0] } } },
});

function streamOf(text: string, chunkSize: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += chunkSize) controller.enqueue(bytes.slice(i, i + chunkSize));
      controller.close();
    },
  });
}

test("frames split anywhere, even inside a multi-byte character, parse into the same events", async () => {
  const wire = 'id: 0\ndata: {"event": "token", "data": {"chunk": "héllo"}}\n\n: keep-alive\n\nid: 1\ndata: {"event": "end", "data": {}}\n\n';
  for (const size of [1, 3, 7, wire.length]) {
    const events: LfxEvent[] = [];
    for await (const e of readEvents(streamOf(wire, size))) events.push(e);
    assert.deepEqual(events, [{ event: "token", data: { chunk: "héllo" } }, { event: "end", data: {} }], `chunks of ${size}`);
  }
  assert.equal(parseFrame("id: 3"), null);
  assert.throws(() => parseFrame('data: {"no": "event"}'));
});

test("results follow Langflow's output filter; the first Chat Output's text is the answer", () => {
  const seen: StreamEvent[] = [];
  const c = new RunCollector(api, (e) => seen.push(e));
  for (const e of [{ event: "token", data: { chunk: "a" } }, vertex("ChatInput-3OQi9", "in"), vertex("TextInput-eFiZp", "AI"), vertex("ChatOutput-J6aor", "out"), { event: "build_start", data: {} }, { event: "end", data: {} }]) c.accept(e);
  assert.deepEqual(seen.map((e) => e.event), ["token"], "progress events stay inside the engine");
  const ids = (outputType: "chat" | "debug" | "text" | "any", outputComponent?: string) =>
    c.finish({ inputValue: "in", inputType: "chat", outputType, ...(outputComponent ? { outputComponent } : {}) }, "s", (t) => t).outputs.map((o) => o.component_id);
  assert.deepEqual(ids("chat"), ["ChatOutput-J6aor"]);
  assert.deepEqual(ids("debug"), ["ChatInput-3OQi9", "TextInput-eFiZp", "ChatOutput-J6aor"]);
  assert.deepEqual(ids("text"), [], "no Text Output in this flow");
  assert.deepEqual(ids("chat", "TextInput-eFiZp"), ["TextInput-eFiZp"]);
  const result = c.finish({ inputValue: "in", inputType: "chat", outputType: "chat" }, "s", (t) => t);
  assert.deepEqual(result.chat, { text: "out", componentDisplayName: "Chat Output", componentId: "ChatOutput-J6aor" });
  assert.deepEqual([result.sessionId, result.inputs], ["s", { input_value: "in" }]);
});

test("lfx's error events become a FlowRunError naming the component, with secrets redacted", () => {
  const c = new RunCollector(api);
  c.accept({ event: "error", data: { text: "x", properties: { source: { id: "ChatOutput-J6aor", display_name: "Chat Output" } } } });
  c.accept({ event: "error", data: { error: "Error building Component Chat Output: \n\nbad key sk-123456" } });
  assert.throws(
    () => c.finish({ inputValue: "", inputType: "chat", outputType: "chat" }, "s", (t) => t.replace("sk-123456", "***")),
    (err: unknown) => err instanceof FlowRunError && err.message === "Error building Component Chat Output: bad key ***" && err.componentId === "ChatOutput-J6aor",
  );
  const cut = new RunCollector(api);
  cut.accept(vertex("ChatInput-3OQi9", "in"));
  assert.throws(() => cut.finish({ inputValue: "", inputType: "chat", outputType: "chat" }, "s", (t) => t), /without a result/, "a stream cut before `end` is a failure");
});

test("a tweaked variant's id never reaches the caller: messages and results carry the flow's own id", () => {
  const seen: StreamEvent[] = [];
  const variant = "3a51c09a-8500-5c39-8dfe-35b87c2ee71a";
  const c = new RunCollector(api, (e) => seen.push(e), variant);
  const message = { text: "out", flow_id: variant, data: { flow_id: variant, other: { flow_id: "elsewhere" } } };
  c.accept({ event: "add_message", data: message });
  c.accept({ event: "end_vertex", data: { build_data: { id: "ChatOutput-J6aor", data: { results: { message }, messages: [message], component_id: "ChatOutput-J6aor" } } } });
  c.accept({ event: "end", data: {} });
  const own = { text: "out", flow_id: api.id, data: { flow_id: api.id, other: { flow_id: "elsewhere" } } };
  assert.deepEqual(seen[0]!.data, own);
  const result = c.finish({ inputValue: "in", inputType: "chat", outputType: "chat" }, "s", (t) => t);
  assert.deepEqual(result.outputs[0]!.results.message, own);
  assert.deepEqual(result.outputs[0]!.messages, [own]);
});
