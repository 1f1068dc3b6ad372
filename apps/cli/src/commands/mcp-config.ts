import type { Command } from "commander";
import { CliError, Exit, usageError } from "../errors.js";
import { note, out } from "../io.js";
import type { Session } from "../session.js";

/**
 * The clients `mcp-config` writes for:
 * - `claude-desktop`: claude_desktop_config.json, through mcp-remote (Claude Desktop starts stdio servers);
 * - `cursor`: Cursor's mcp.json, streamable HTTP with a header;
 * - `vscode`: VS Code's .vscode/mcp.json;
 * - `python`: a script on the official MCP Python SDK (`pip install mcp`) that lists the tools;
 * - `generic`: name, transport, URL and header, for any streamable HTTP client.
 */
export const MCP_CLIENTS = ["claude-desktop", "cursor", "vscode", "python", "generic"] as const;
type McpClient = (typeof MCP_CLIENTS)[number];
const PLACEHOLDER = "<FLOWPLANE_ACCESS_KEY>";

/** Where each client reads its configuration, for the note printed beside the JSON. */
const WHERE: Record<McpClient, string> = {
  "claude-desktop": "claude_desktop_config.json (Settings > Developer > Edit Config); merge into \"mcpServers\"",
  cursor: "~/.cursor/mcp.json or .cursor/mcp.json in the project; merge into \"mcpServers\"",
  vscode: ".vscode/mcp.json in the workspace (VS Code prompts for the key once and stores it)",
  python: "a Python script: pip install mcp, set FLOWPLANE_ACCESS_KEY, run it (it lists the flows as tools)",
  generic: "any MCP client that speaks streamable HTTP",
};

/**
 * The configuration snippet for one MCP client, pointing at the deployment's MCP endpoint
 * (streamable HTTP) with the x-access-key header. `key` is the real key or a placeholder.
 */
export function mcpConfig(client: Exclude<McpClient, "python">, name: string, url: string, key: string): unknown {
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
      return key === PLACEHOLDER
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
export function mcpPythonScript(url: string, key: string): string {
  const keyExpr = key === PLACEHOLDER ? `os.environ["FLOWPLANE_ACCESS_KEY"]` : `os.environ.get("FLOWPLANE_ACCESS_KEY", ${py(key)})`;
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

/** What `mcp-config` prints for a client: JSON, or the Python script. */
export function mcpConfigText(client: McpClient, name: string, url: string, key: string): string {
  return client === "python" ? mcpPythonScript(url, key) : JSON.stringify(mcpConfig(client, name, url, key), null, 2);
}

export function registerMcpConfig(program: Command, session: Session): void {
  const io = session.io;
  program.command("mcp-config")
    .argument("<deployment>", "name, resource name or id")
    .description("print the configuration an MCP client needs to use the deployment's flows as tools")
    .option("--client <client>", `${MCP_CLIENTS.join(", ")}`, "generic")
    .option("--server-name <name>", "the server's name in the client (default: the deployment's resource name)")
    .option("--include-key", "embed the access key this CLI uses (default: a placeholder to replace; prefer a machine user's key)")
    .action(async (ref: string, o: { client: string; serverName?: string; includeKey?: boolean }) => {
      if (!(MCP_CLIENTS as readonly string[]).includes(o.client)) throw usageError(`--client ${o.client}: choose one of ${MCP_CLIENTS.join(", ")}`);
      const { deployment } = await session.deployment(ref);
      if (deployment.deletedAt || deployment.deletionRequestedAt) throw new CliError(Exit.notFound, `deployment "${deployment.displayName}" is undeployed`);
      const target = await session.target();
      if (o.includeKey && !target.key) throw new CliError(Exit.auth, "--include-key: this CLI has no access key to include");
      const key = o.includeKey ? target.key! : PLACEHOLDER;
      out(io, mcpConfigText(o.client as McpClient, o.serverName ?? deployment.resourceName, deployment.endpoints.mcp, key));
      note(io, `# for ${WHERE[o.client as McpClient]}`);
      if (!o.includeKey && o.client === "python") {
        note(io, "# set FLOWPLANE_ACCESS_KEY to an access key that has a role in the project (a machine user's key is best)");
      } else if (!o.includeKey && o.client !== "vscode") {
        note(io, `# replace ${PLACEHOLDER} with an access key that has a role in the project (a machine user's key is best), or use --include-key`);
      }
    });
}
