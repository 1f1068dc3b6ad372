import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { fixturePath } from "@flowplane/testkit";
import { REPLICA_ARGS, spawnRuntime } from "./test-process.js";

// A replica serving a native flow loads neither zod nor the MCP SDK nor the lfx adapter until a
// request needs them (issue #16: each costs start time and memory on every replica). The real
// binary runs with a module hook that writes every ESM module it loads to a file.
const SIMPLE = "1e3eea9b-d466-4fba-b0d9-08901143df3e";

/** The modules the replica loads, through a hook (above), before and after its first MCP call. */
async function loadedModules(args?: readonly string[]): Promise<{ before: string[]; after: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "fp-lean-"));
  const list = join(dir, "modules.txt");
  writeFileSync(list, "");
  writeFileSync(join(dir, "hooks.mjs"), `import { appendFileSync } from "node:fs";
export async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + "\\n"); return next(url, context); }\n`);
  writeFileSync(join(dir, "register.mjs"), `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)});\n`);
  const rt = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: fixturePath("simple-api-test"), NODE_OPTIONS: `--import=${pathToFileURL(join(dir, "register.mjs")).href}`, FLOWPLANE_PARAMETER_NAMES: "[]" }, args);
  try {
    const base = await rt.waitReady();
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    for (const res of [await post(`/api/v1/run/${SIMPLE}`, { input_value: "x" }), await post(`/flows/${SIMPLE}/run`, { input_value: "x" }), await post(`/api/v1/run/${SIMPLE}`, { input_type: "voice" })]) {
      assert.ok(res.status === 200 || res.status === 422, String(res.status));
      await res.text();
    }
    const loaded = () => readFileSync(list, "utf8").split("\n").filter(Boolean);
    const before = loaded();
    const mcp = await post("/mcp", { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "t", version: "1" } } }, { accept: "application/json, text/event-stream" });
    assert.equal(mcp.status, 200);
    await mcp.text();
    return { before, after: loaded() };
  } finally {
    assert.equal(await rt.stop(), 0);
  }
}

test("a native replica serves HTTP runs without loading zod, the MCP SDK or the lfx engine; MCP loads them on its first call", async () => {
  const { before, after } = await loadedModules();
  // The hook sees the replica's own modules (else the absences below would prove nothing).
  assert.ok(before.some((u) => u.includes("/engine-native/dist/engine.js")), "the hook saw the native engine load");
  assert.deepEqual(before.filter((u) => /\/node_modules\/(zod|@modelcontextprotocol)\/|\/engine-lfx\/dist\/engine\.js/.test(u)), []);
  assert.ok(after.some((u) => u.includes("/node_modules/@modelcontextprotocol/")), "MCP loads its SDK");
  assert.ok(after.some((u) => u.includes("/node_modules/zod/")), "and zod, at its first call");
});

// The same for what replicas run: the bundle (scripts/bundle-runtime.mjs), started as a driver
// starts one. Its chunks are named after their first module (zod-*, mcp-*, streamableHttp-*);
// the lfx engine's chunk is told by the region comment rolldown writes before each module.
test("the replica's bundle, as a driver starts it, serves HTTP runs without loading zod, the MCP SDK or the lfx engine", async () => {
  const { before, after } = await loadedModules(REPLICA_ARGS);
  const chunk = /\/dist\/bundle\/chunks\/([A-Za-z]+)-[^/]+\.js$/;
  const chunks = (urls: string[]) => urls.map((u) => chunk.exec(u)?.[1]).filter((n) => n !== undefined);
  assert.ok(before.some((u) => u.endsWith("/dist/bundle/main.js")), "the bundle ran, not dist/main.js");
  assert.ok(chunks(before).includes("host"), "the hook saw the bundle's chunks load");
  assert.deepEqual(chunks(before).filter((n) => ["zod", "mcp", "streamableHttp", "iso"].includes(n)), []);
  const holding = (module: string) => before.filter((u) => chunk.test(u) && readFileSync(new URL(u), "utf8").includes(`// ${module}`));
  // The native engine's chunk is found by its region comment (else the lfx engine's absence would prove nothing).
  assert.equal(holding("adapters/engine-native/dist/engine.js").length, 1, "the native engine's chunk is told by its region comment");
  assert.deepEqual(holding("adapters/engine-lfx/dist/engine.js"), []);
  assert.ok(chunks(after).includes("mcp") && chunks(after).includes("zod"), "MCP loads its SDK and zod at its first call");
});
