import type { Command } from "commander";
import { CliError, Exit, usageError } from "../errors.js";
import { note, out } from "../io.js";
import type { Session } from "../session.js";
import { MCP_CLIENTS, MCP_CLIENT_INFO, MCP_KEY_PLACEHOLDER, mcpConfigText, type McpClient } from "@flowplane/core/api";

export { MCP_CLIENTS, mcpConfigText } from "@flowplane/core/api";
const PLACEHOLDER = MCP_KEY_PLACEHOLDER;

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
      note(io, `# for ${MCP_CLIENT_INFO[o.client as McpClient].where}`);
      if (!o.includeKey && o.client === "python") {
        note(io, "# set FLOWPLANE_ACCESS_KEY to an access key that has a role in the project (a machine user's key is best)");
      } else if (!o.includeKey && o.client !== "vscode") {
        note(io, `# replace ${PLACEHOLDER} with an access key that has a role in the project (a machine user's key is best), or use --include-key`);
      }
    });
}
