import { Command } from "commander";
import { registerBundleCommands } from "./commands/bundles.js";
import { registerChangeCommands } from "./commands/change.js";
import { registerCompletion } from "./commands/completion.js";
import { registerContextCommands } from "./commands/contexts.js";
import { registerDeploy } from "./commands/deploy.js";
import { registerInspectCommands } from "./commands/inspect.js";
import { registerInvoke } from "./commands/invoke.js";
import { registerKeyCommands } from "./commands/keys.js";
import { registerMemberCommands } from "./commands/members.js";
import { registerMcpConfig } from "./commands/mcp-config.js";
import { registerProjectCommands } from "./commands/projects.js";
import { registerUserCommands } from "./commands/users.js";
import { EXIT_CODES_HELP } from "./errors.js";
import type { Io } from "./io.js";
import { Session, type GlobalOptions } from "./session.js";

export const VERSION = "0.1.0";

/**
 * The command tree. Each register function adds one concept's commands; they all receive the
 * same session, whose global options are read when a command runs (after parsing).
 */
export function buildProgram(io: Io): { program: Command; session: Session } {
  const globals: GlobalOptions = {};
  const session = new Session(io, globals);
  const program = new Command("flowplane")
    .description("flowplane on the command line: publish Langflow flows, deploy them, and manage the deployments through the control-plane API.")
    .version(VERSION, "-V, --version", "print the CLI version")
    .option("--context <name>", "use this context instead of the current one (see `flowplane context list`)")
    .option("--project <name|id>", "the project to work in (default: the context's project, or your only one)")
    .showSuggestionAfterError()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .addHelpText("after", `
Connection: FLOWPLANE_SERVER and FLOWPLANE_ACCESS_KEY override the context; FLOWPLANE_PROJECT
sets the project. Contexts live in $FLOWPLANE_CONFIG or ~/.config/flowplane/config.json (0600).
For a server on localhost with no key configured, the admin key in
$FLOWPLANE_DATA_DIR/admin.key (default ./.flowplane/admin.key) is used.

${EXIT_CODES_HELP}`)
    .hook("preAction", (_root, action) => {
      Object.assign(globals, action.optsWithGlobals());
    });

  registerContextCommands(program, session);
  registerProjectCommands(program, session);
  registerBundleCommands(program, session);
  registerDeploy(program, session);
  registerInspectCommands(program, session);
  registerChangeCommands(program, session);
  registerInvoke(program, session);
  registerMcpConfig(program, session);
  registerUserCommands(program, session);
  registerMemberCommands(program, session);
  registerKeyCommands(program, session);
  registerCompletion(program, io);

  // Usage errors throw (exit 2) instead of exiting inside commander, so main owns every exit code.
  const strict = (c: Command) => {
    c.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    c.commands.forEach(strict);
  };
  strict(program);
  return { program, session };
}
