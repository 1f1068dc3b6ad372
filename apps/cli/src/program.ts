import { Command } from "commander";
import { EXIT_CODES_HELP } from "./errors.js";
import type { Io } from "./io.js";
import { Session, type GlobalOptions } from "./session.js";
import { VERSION } from "./version.js";

/** Adds one concept's commands to the program; they all get the same session. */
type Register = (program: Command, session: Session) => void;

interface CommandEntry {
  /** The top-level command names the module registers: invoking one loads only this module. */
  names: readonly string[];
  /** Imports the module (on demand: each brings its own dependencies) and returns its register function. */
  load: () => Promise<Register>;
  /** The command needs the whole tree to work (completion describes every command). */
  needsAll?: boolean;
}

/**
 * The command table, in the order `--help` lists them. One file per concept in commands/, each
 * exporting a register function; to add one, add a line here (apps/cli/README.md, "Adding a
 * command"). A test checks that every name listed is the one its module registers.
 */
export const COMMANDS: readonly CommandEntry[] = [
  { names: ["login", "context"], load: async () => (await import("./commands/contexts.js")).registerContextCommands },
  { names: ["projects"], load: async () => (await import("./commands/projects.js")).registerProjectCommands },
  { names: ["publish", "bundles"], load: async () => (await import("./commands/bundles.js")).registerBundleCommands },
  { names: ["deploy"], load: async () => (await import("./commands/deploy.js")).registerDeploy },
  { names: ["list", "get", "events", "manifests"], load: async () => (await import("./commands/inspect.js")).registerInspectCommands },
  { names: ["edit", "set-version", "scale", "disable", "enable", "undeploy"], load: async () => (await import("./commands/change.js")).registerChangeCommands },
  { names: ["revisions", "rollback", "canary", "promote", "abort"], load: async () => (await import("./commands/revisions.js")).registerRevisionCommands },
  { names: ["runs", "trace", "logs"], load: async () => (await import("./commands/runs.js")).registerRunCommands },
  { names: ["top"], load: async () => (await import("./commands/top.js")).registerTop },
  { names: ["invoke"], load: async () => (await import("./commands/invoke.js")).registerInvoke },
  { names: ["mcp-config"], load: async () => (await import("./commands/mcp-config.js")).registerMcpConfig },
  { names: ["users"], load: async () => (await import("./commands/users.js")).registerUserCommands },
  { names: ["members"], load: async () => (await import("./commands/members.js")).registerMemberCommands },
  { names: ["keys"], load: async () => (await import("./commands/keys.js")).registerKeyCommands },
  { names: ["completion"], needsAll: true, load: async () => { const { registerCompletion } = await import("./commands/completion.js"); return (p, s) => registerCompletion(p, s.io); } },
];

/** Global options that take a value: skipped when looking for the command's name. */
const GLOBAL_WITH_VALUE = new Set(["--context", "--project"]);

/**
 * The top-level command `args` (argv without node and the script) invokes, if any: the first
 * word that is not an option, or what `help NAME` names.
 */
export function invokedCommand(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (GLOBAL_WITH_VALUE.has(a)) i++;
    else if (a === "--") return args[i + 1];
    else if (!a.startsWith("-")) return a === "help" && args[i + 1] !== undefined && !args[i + 1]!.startsWith("-") ? args[i + 1] : a;
  }
  return undefined;
}

/**
 * The command tree for `args`. Only the module of the invoked command is loaded; without one
 * (`--help`, a typo that deserves a suggestion) or for a command that needs the whole tree,
 * every module is. Global options are read when a command runs (after parsing).
 */
export async function buildProgram(io: Io, args: readonly string[] = []): Promise<{ program: Command; session: Session }> {
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

  const name = invokedCommand(args);
  const entry = COMMANDS.find((c) => name !== undefined && c.names.includes(name));
  const chosen = entry && !entry.needsAll ? [entry] : COMMANDS;
  const registers = await Promise.all(chosen.map((c) => c.load()));
  for (const register of registers) register(program, session);

  // Usage errors throw (exit 2) instead of exiting inside commander, so main owns every exit code.
  const strict = (c: Command) => {
    c.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    c.commands.forEach(strict);
  };
  strict(program);
  return { program, session };
}
