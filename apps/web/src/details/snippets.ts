/**
 * Ready-to-paste client snippets for a deployment's endpoints. The key is never filled in:
 * the UI does not hold the caller's application key, so the snippets read it from the
 * environment (curl) or carry a placeholder to replace.
 */
export const KEY_PLACEHOLDER = "<your access key>";

export function curlRun(httpUrl: string, flowId: string): string {
  return [
    `curl -X POST '${httpUrl}/flows/${flowId}/run' \\`,
    `  -H "x-access-key: $FLOWPLANE_ACCESS_KEY" \\`,
    `  -H 'content-type: application/json' \\`,
    `  -d '{"input_value": "Hello"}'`,
  ].join("\n");
}

/** The MCP clients the UI writes configuration for (the CLI's `mcp-config --client` writes the same). */
export type McpClient = "generic" | "cursor" | "claude-desktop" | "vscode" | "python";

export const MCP_CLIENTS: { value: McpClient; label: string; where: string; language: "json" | "python" }[] = [
  { value: "cursor", label: "Cursor", where: "~/.cursor/mcp.json or .cursor/mcp.json in the project: merge into \"mcpServers\".", language: "json" },
  { value: "claude-desktop", label: "Claude Desktop", where: "claude_desktop_config.json (Settings > Developer > Edit Config): merge into \"mcpServers\". Needs Node for mcp-remote.", language: "json" },
  { value: "vscode", label: "VS Code", where: ".vscode/mcp.json in the workspace. VS Code asks for the key once and stores it.", language: "json" },
  { value: "python", label: "Python (MCP SDK)", where: "pip install mcp, set FLOWPLANE_ACCESS_KEY, then run the script: it lists the flows as tools.", language: "python" },
  { value: "generic", label: "Other streamable HTTP clients", where: "Your client's MCP settings: merge into \"mcpServers\".", language: "json" },
];

/** A script on the official MCP Python SDK; the key from FLOWPLANE_ACCESS_KEY. */
function pythonScript(url: string): string {
  return [
    "# pip install mcp",
    "import asyncio",
    "import os",
    "",
    "from mcp import ClientSession",
    "from mcp.client.streamable_http import streamablehttp_client",
    "",
    `URL = ${JSON.stringify(url)}`,
    `HEADERS = {"x-access-key": os.environ["FLOWPLANE_ACCESS_KEY"]}`,
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

export function mcpConfig(client: McpClient, name: string, url: string): string {
  let doc: unknown;
  switch (client) {
    case "python":
      return pythonScript(url);
    case "generic":
    case "cursor":
      doc = { mcpServers: { [name]: { url, headers: { "x-access-key": KEY_PLACEHOLDER } } } };
      break;
    case "claude-desktop":
      doc = {
        mcpServers: {
          [name]: {
            command: "npx",
            args: ["-y", "mcp-remote", url, ...(url.startsWith("http://") ? ["--allow-http"] : []), "--header", "x-access-key:${FLOWPLANE_ACCESS_KEY}"],
            env: { FLOWPLANE_ACCESS_KEY: KEY_PLACEHOLDER },
          },
        },
      };
      break;
    case "vscode":
      doc = {
        inputs: [{ type: "promptString", id: "flowplane-access-key", description: `flowplane access key for ${name}`, password: true }],
        servers: { [name]: { type: "http", url, headers: { "x-access-key": "${input:flowplane-access-key}" } } },
      };
      break;
  }
  return JSON.stringify(doc, null, 2);
}
