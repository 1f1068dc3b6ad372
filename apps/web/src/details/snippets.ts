import { MCP_CLIENTS, MCP_CLIENT_INFO, MCP_KEY_PLACEHOLDER, curlRunText, mcpConfigText, type McpClient } from "@flowplane/core/api";

/**
 * Ready-to-paste client snippets for a deployment's endpoints. The key is never filled in:
 * the UI does not hold the caller's application key, so the snippets read it from the
 * environment (curl) or carry a placeholder to replace.
 */
export function curlRun(httpUrl: string, flowId: string): string {
  // The flow id is its publisher's text: quoted and encoded there (core/src/api/curl-snippet.ts).
  return curlRunText(httpUrl, flowId);
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
  return curlRunText(httpUrl, flowId, key);
}

/** A client's configuration with the new key filled in (shown once). */
export function mcpConfigWithKey(client: McpClient, name: string, url: string, key: string): string {
  return mcpConfigText(client, name, url, key);
}
