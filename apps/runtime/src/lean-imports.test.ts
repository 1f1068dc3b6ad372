import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { fixturePath } from "@flowplane/testkit";
import { spawnRuntime } from "./test-process.js";

// A replica serving a native flow loads neither zod nor the MCP SDK nor the lfx adapter until a
// request needs them (issue #16: each costs start time and memory on every replica). The real
// binary runs with a module hook that writes every ESM module it loads to a file.
const SIMPLE = "1e3eea9b-d466-4fba-b0d9-08901143df3e";

test("a native replica serves HTTP runs without loading zod, the MCP SDK or the lfx engine; MCP loads them on its first call", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fp-lean-"));
  const list = join(dir, "modules.txt");
  writeFileSync(list, "");
  writeFileSync(join(dir, "hooks.mjs"), `import { appendFileSync } from "node:fs";
export async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + "\\n"); return next(url, context); }\n`);
  writeFileSync(join(dir, "register.mjs"), `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)});\n`);
  const rt = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: fixturePath("simple-api-test"), NODE_OPTIONS: `--import=${pathToFileURL(join(dir, "register.mjs")).href}`, FLOWPLANE_PARAMETER_NAMES: "[]" });
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
    // The hook sees the replica's own modules (else the absences below would prove nothing).
    assert.ok(before.some((u) => u.includes("/engine-native/dist/engine.js")), "the hook saw the native engine load");
    assert.deepEqual(before.filter((u) => /\/node_modules\/(zod|@modelcontextprotocol)\/|\/engine-lfx\/dist\/engine\.js/.test(u)), []);
    const mcp = await post("/mcp", { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "t", version: "1" } } }, { accept: "application/json, text/event-stream" });
    assert.equal(mcp.status, 200);
    await mcp.text();
    const after = loaded();
    assert.ok(after.some((u) => u.includes("/node_modules/@modelcontextprotocol/")), "MCP loads its SDK");
    assert.ok(after.some((u) => u.includes("/node_modules/zod/")), "and zod, at its first call");
  } finally {
    assert.equal(await rt.stop(), 0);
  }
});
