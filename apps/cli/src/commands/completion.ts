import type { Command, Option } from "commander";
import { usageError } from "../errors.js";
import type { Io } from "../io.js";
import { MCP_CLIENTS } from "./mcp-config.js";

/** Fixed value sets of options; anything else with a value completes file names. */
const VALUES: Record<string, string> = {
  "--output": "table json yaml name text",
  "--client": MCP_CLIENTS.join(" "),
  "--network": "public private",
  "--engine": "auto native lfx",
  "--log-level": "debug info warn error",
  "--tweaks-policy": "permissive declared off",
  "--access": "project global",
  "--kind": "human machine",
  "--role": "viewer editor owner",
};
/** Options whose values are live names, asked of the server (or the contexts file) at completion time. */
const DYNAMIC: Record<string, string> = {
  "--project": "flowplane projects list -o name",
  "--share-with": "flowplane projects list -o name",
  "--default-project": "flowplane projects list -o name",
  "--context": "flowplane context list -o name",
  "--bundle": "flowplane bundles list -o name",
  "--user": "flowplane users list -o name",
};

interface Node {
  path: string;
  subcommands: string[];
  options: string[];
  valueOptions: string[];
  takesDeployment: boolean;
}

/** Every command of the tree with its path ("context list"), subcommands and options. */
export function commandTree(program: Command): Node[] {
  const nodes: Node[] = [];
  const flags = (o: Option) => [o.short, o.long].filter((x): x is string => Boolean(x));
  const visit = (c: Command, path: string) => {
    const opts = c.options as readonly Option[];
    nodes.push({
      path,
      subcommands: c.commands.map((s) => s.name()),
      options: [...opts.flatMap(flags), "--help"],
      valueOptions: opts.filter((o) => o.required || o.optional).flatMap(flags),
      takesDeployment: c.registeredArguments[0]?.name() === "deployment",
    });
    for (const s of c.commands) visit(s, path ? `${path} ${s.name()}` : s.name());
  };
  visit(program, "");
  return nodes;
}

/** A bash completion function built from the command tree, so it never drifts from the commands. */
export function bashCompletion(program: Command): string {
  const nodes = commandTree(program);
  const root = nodes[0]!;
  const arms = (f: (n: Node) => string) => nodes.map((n) => `    "${n.path}") echo "${f(n)}" ;;`).join("\n");
  const valueOptions = [...new Set(nodes.flatMap((n) => n.valueOptions))];
  return `# flowplane bash completion: source <(flowplane completion bash)
_flowplane_subcommands() {
  case "$1" in
${arms((n) => n.subcommands.join(" "))}
  esac
}
_flowplane_options() {
  case "$1" in
${arms((n) => [...n.options, ...(n.path ? root.options : [])].join(" "))}
  esac
}
_flowplane_takes_deployment() {
  case "$1" in
${nodes.filter((n) => n.takesDeployment).map((n) => `    "${n.path}") return 0 ;;`).join("\n")}
  esac
  return 1
}
# Names the server answers (bundles, deployments, projects, users) are other people's text: a
# global bundle's name is anyone's to choose. compgen -W expands each word of its list as shell
# code, so a bundle named $(cmd) ran cmd in the shell of everyone who pressed TAB after --bundle.
# Each line is compared with what was typed as a plain string instead, and offered quoted (%q),
# so it reaches the command line as the name itself (one word, even with a space in it).
_flowplane_names() {
  local line
  COMPREPLY=()
  while IFS= read -r line; do
    [[ -n "$line" && "$line" == "$cur"* ]] && COMPREPLY+=("$(printf '%q' "$line")")
  done < <("$@" 2>/dev/null)
}
_flowplane() {
  local cur prev path="" i w next
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    next="\${path:+$path }$w"
    if [[ " $(_flowplane_subcommands "$path") " == *" $w "* ]]; then path="$next"; fi
  done
  case "$prev" in
${Object.entries(VALUES).map(([o, v]) => `    ${o}${o === "--output" ? "|-o" : ""}) COMPREPLY=($(compgen -W "${v}" -- "$cur")); return ;;`).join("\n")}
${Object.entries(DYNAMIC).map(([o, cmd]) => `    ${o}) _flowplane_names ${cmd}; return ;;`).join("\n")}
    ${valueOptions.filter((o) => !(o in VALUES) && !(o in DYNAMIC) && o !== "-o").join("|") || "--none"}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_flowplane_options "$path")" -- "$cur"))
  elif [[ -n "$(_flowplane_subcommands "$path")" ]]; then
    COMPREPLY=($(compgen -W "$(_flowplane_subcommands "$path")" -- "$cur"))
  elif _flowplane_takes_deployment "$path"; then
    _flowplane_names flowplane list -o name
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _flowplane flowplane
`;
}

/** zsh runs the same function through its bash compatibility layer. */
export function zshCompletion(program: Command): string {
  return `#compdef flowplane
# flowplane zsh completion: source <(flowplane completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).split("\n").slice(1).join("\n")}`;
}

export function registerCompletion(program: Command, io: Io): void {
  program.command("completion")
    .argument("<shell>", "bash or zsh")
    .description("print a shell completion script")
    .addHelpText("after", `
Load it in the current shell, or add the line to ~/.bashrc / ~/.zshrc:
  source <(flowplane completion bash)
  source <(flowplane completion zsh)`)
    .action((shell: string, _o: unknown, cmd: Command) => {
      const root = cmd.parent!;
      if (shell === "bash") io.stdout.write(bashCompletion(root));
      else if (shell === "zsh") io.stdout.write(zshCompletion(root));
      else throw usageError(`completion ${shell}: choose bash or zsh`);
    });
}
