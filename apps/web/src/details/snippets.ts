import { MCP_CLIENTS, MCP_CLIENT_INFO, MCP_KEY_PLACEHOLDER, mcpConfigText, type McpClient } from "@flowplane/core/api";

/**
 * Ready-to-paste client snippets for a deployment's endpoints. The key is never filled in:
 * the UI does not hold the caller's application key, so the snippets read it from the
 * environment (curl) or carry a placeholder to replace.
 */
export function curlRun(httpUrl: string, flowId: string): string {
  return [
    `curl -X POST '${httpUrl}/flows/${flowId}/run' \\`,
    `  -H "x-access-key: $FLOWPLANE_ACCESS_KEY" \\`,
    `  -H 'content-type: application/json' \\`,
    `  -d '{"input_value": "Hello"}'`,
  ].join("\n");
}

/** The MCP clients the UI writes configuration for: the same as the CLI's `mcp-config --client`, from the API contract. */
export type { McpClient };
export const MCP_CLIENT_OPTIONS = MCP_CLIENTS.map((value) => ({ value, ...MCP_CLIENT_INFO[value] }));

/** A client's configuration with a placeholder for the key (the UI does not hold the caller's application key). */
export function mcpConfig(client: McpClient, name: string, url: string): string {
  return mcpConfigText(client, name, url, MCP_KEY_PLACEHOLDER);
}

/** The same curl call with a key filled in: shown once, right after the key is created, never stored. */
export function curlRunWithKey(httpUrl: string, flowId: string, key: string): string {
  return curlRun(httpUrl, flowId).replace('"x-access-key: $FLOWPLANE_ACCESS_KEY"', `'x-access-key: ${key}'`);
}

/** A client's configuration with the new key filled in (shown once). */
export function mcpConfigWithKey(client: McpClient, name: string, url: string, key: string): string {
  return mcpConfigText(client, name, url, key);
}
