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

export type McpClient = "generic" | "claude-desktop" | "vscode";

export const MCP_CLIENTS: { value: McpClient; label: string; where: string }[] = [
  { value: "generic", label: "Cursor / streamable HTTP clients", where: "~/.cursor/mcp.json, or your client's MCP settings: merge into \"mcpServers\"." },
  { value: "claude-desktop", label: "Claude Desktop", where: "claude_desktop_config.json (Settings > Developer > Edit Config): merge into \"mcpServers\". Needs Node for mcp-remote." },
  { value: "vscode", label: "VS Code", where: ".vscode/mcp.json in the workspace. VS Code asks for the key once and stores it." },
];

export function mcpConfig(client: McpClient, name: string, url: string): string {
  let doc: unknown;
  switch (client) {
    case "generic":
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
