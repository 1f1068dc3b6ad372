/**
 * Ready-to-paste configuration for the MCP clients people use, pointing at a deployment's MCP
 * endpoint (streamable HTTP, the `/mcp` form) with the `x-access-key` header. One definition
 * for the CLI's `mcp-config` and the web UI's deployment page, so the two never drift.
 *
 * - `claude-desktop`: claude_desktop_config.json, through mcp-remote (Claude Desktop starts stdio servers);
 * - `cursor`: Cursor's mcp.json, streamable HTTP with a header;
 * - `vscode`: VS Code's .vscode/mcp.json;
 * - `python`: a script on the official MCP Python SDK (`pip install mcp`) that lists the tools;
 * - `generic`: name, transport, URL and header, for any streamable HTTP client.
 */
export const MCP_CLIENTS = ["claude-desktop", "cursor", "vscode", "python", "generic"] as const;
export type McpClient = (typeof MCP_CLIENTS)[number];

/** Stands where the key goes when the caller does not embed a real one. */
export const MCP_KEY_PLACEHOLDER = "<FLOWPLANE_ACCESS_KEY>";

/** What each client is called and where its configuration goes. */
export const MCP_CLIENT_INFO: Record<McpClient, { label: string; where: string; language: "json" | "python" }> = {
  cursor: { label: "Cursor", where: "~/.cursor/mcp.json or .cursor/mcp.json in the project; merge into \"mcpServers\"", language: "json" },
  "claude-desktop": { label: "Claude Desktop", where: "claude_desktop_config.json (Settings > Developer > Edit Config); merge into \"mcpServers\" (needs Node for mcp-remote)", language: "json" },
  vscode: { label: "VS Code", where: ".vscode/mcp.json in the workspace (VS Code prompts for the key once and stores it)", language: "json" },
  python: { label: "Python (MCP SDK)", where: "a Python script: pip install mcp, set FLOWPLANE_ACCESS_KEY, run it (it lists the flows as tools)", language: "python" },
  generic: { label: "Other streamable HTTP clients", where: "any MCP client that speaks streamable HTTP", language: "json" },
};

function jsonConfig(client: Exclude<McpClient, "python">, name: string, url: string, key: string): unknown {
  switch (client) {
    case "claude-desktop":
      // Claude Desktop starts stdio servers only; mcp-remote bridges to streamable HTTP.
      // The key travels in an environment variable, not in the argument list.
      return {
        mcpServers: {
          [name]: {
            command: "npx",
            args: ["-y", "mcp-remote", url, ...(url.startsWith("http://") ? ["--allow-http"] : []), "--header", "x-access-key:${FLOWPLANE_ACCESS_KEY}"],
            env: { FLOWPLANE_ACCESS_KEY: key },
          },
        },
      };
    case "cursor":
      return { mcpServers: { [name]: { url, headers: { "x-access-key": key } } } };
    case "vscode":
      return key === MCP_KEY_PLACEHOLDER
        ? {
          inputs: [{ type: "promptString", id: "flowplane-access-key", description: `flowplane access key for ${name}`, password: true }],
          servers: { [name]: { type: "http", url, headers: { "x-access-key": "${input:flowplane-access-key}" } } },
        }
        : { servers: { [name]: { type: "http", url, headers: { "x-access-key": key } } } };
    case "generic":
      return { name, transport: "streamable-http", url, headers: { "x-access-key": key } };
  }
}

/** A Python string literal (JSON's escapes are Python's for these strings). */
const py = (s: string) => JSON.stringify(s);

/**
 * A script on the official MCP Python SDK: connects over streamable HTTP, initializes, lists the
 * tools. The key comes from FLOWPLANE_ACCESS_KEY; with a real key it is only the fallback.
 */
function pythonScript(url: string, key: string): string {
  const keyExpr = key === MCP_KEY_PLACEHOLDER ? `os.environ["FLOWPLANE_ACCESS_KEY"]` : `os.environ.get("FLOWPLANE_ACCESS_KEY", ${py(key)})`;
  return [
    "# pip install mcp",
    "import asyncio",
    "import os",
    "",
    "from mcp import ClientSession",
    "from mcp.client.streamable_http import streamablehttp_client",
    "",
    `URL = ${py(url)}`,
    `HEADERS = {"x-access-key": ${keyExpr}}`,
    "",
    "",
    "async def main() -> None:",
    "    async with streamablehttp_client(URL, headers=HEADERS) as (read, write, _):",
    "        async with ClientSession(read, write) as session:",
    "            await session.initialize()",
    "            for tool in (await session.list_tools()).tools:",
    "                print(f\"{tool.name}: {tool.description}\")",
    "            # result = await session.call_tool(\"<tool name>\", {\"input_value\": \"Hello\"})",
    "",
    "",
    "asyncio.run(main())",
    "",
  ].join("\n");
}

/** The configuration text for one client: JSON, or the Python script. `key` is a real key or MCP_KEY_PLACEHOLDER. */
export function mcpConfigText(client: McpClient, name: string, url: string, key: string): string {
  return client === "python" ? pythonScript(url, key) : JSON.stringify(jsonConfig(client, name, url, key), null, 2);
}
