import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { MCP_CLIENTS, mcpConfigText } from "./mcp-config.js";

/**
 * Every client's snippet parses as what that client reads (JSON, or Python for the SDK script),
 * and carries the `/mcp` URL and the key header. That the configured endpoint really serves MCP
 * is checked against a real deployment by tests/clients (the Python script is run there).
 */
const URL_ = "http://localhost:8080/projects/p/apps/a/routes/r/mcp";
const KEY = "fp_secret'\"key";

function pythonParses(source: string): string {
  const r = spawnSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read()); print('ok')"], { input: source, encoding: "utf8" });
  return `${r.stdout}${r.stderr}`.trim();
}

describe("mcp-config snippets", () => {
  it("Claude Desktop: mcp-remote over the /mcp URL, the key in env (never in args)", () => {
    const doc = JSON.parse(mcpConfigText("claude-desktop", "support", URL_, KEY)) as { mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }> };
    const entry = doc.mcpServers.support!;
    assert.equal(entry.command, "npx");
    assert.deepEqual(entry.args.slice(0, 3), ["-y", "mcp-remote", URL_]);
    assert.ok(entry.args.includes("--allow-http"), "http:// needs --allow-http in mcp-remote");
    assert.ok(entry.args.includes("x-access-key:${FLOWPLANE_ACCESS_KEY}"));
    assert.ok(!entry.args.join(" ").includes(KEY));
    assert.equal(entry.env.FLOWPLANE_ACCESS_KEY, KEY);
  });

  it("Cursor: url and headers under mcpServers", () => {
    const doc = JSON.parse(mcpConfigText("cursor", "support", URL_, KEY)) as { mcpServers: Record<string, unknown> };
    assert.deepEqual(doc.mcpServers.support, { url: URL_, headers: { "x-access-key": KEY } });
  });

  it("VS Code: an http server; with the placeholder, a password prompt instead of the key", () => {
    const withKey = JSON.parse(mcpConfigText("vscode", "support", URL_, KEY)) as { servers: Record<string, unknown> };
    assert.deepEqual(withKey.servers.support, { type: "http", url: URL_, headers: { "x-access-key": KEY } });
    const prompted = JSON.parse(mcpConfigText("vscode", "support", URL_, "<FLOWPLANE_ACCESS_KEY>")) as { inputs: { id: string; password: boolean }[]; servers: Record<string, { headers: Record<string, string> }> };
    assert.equal(prompted.inputs[0]!.password, true);
    assert.equal(prompted.servers.support!.headers["x-access-key"], `\${input:${prompted.inputs[0]!.id}}`);
  });

  it("Python SDK: a script that parses, on streamablehttp_client, the key from the environment", () => {
    const placeholder = mcpConfigText("python", "support", URL_, "<FLOWPLANE_ACCESS_KEY>");
    assert.equal(pythonParses(placeholder), "ok", placeholder);
    assert.ok(placeholder.includes(`URL = ${JSON.stringify(URL_)}`));
    assert.ok(placeholder.includes(`os.environ["FLOWPLANE_ACCESS_KEY"]`));
    assert.ok(!placeholder.includes("<FLOWPLANE_ACCESS_KEY>"));
    // A key with quotes stays one string literal.
    const embedded = mcpConfigText("python", "support", URL_, KEY);
    assert.equal(pythonParses(embedded), "ok", embedded);
    assert.ok(embedded.includes(JSON.stringify(KEY)));
  });

  it("generic, and every client is covered", () => {
    assert.deepEqual(JSON.parse(mcpConfigText("generic", "support", URL_, KEY)), { name: "support", transport: "streamable-http", url: URL_, headers: { "x-access-key": KEY } });
    assert.deepEqual([...MCP_CLIENTS].sort(), ["claude-desktop", "cursor", "generic", "python", "vscode"]);
  });
});
