import { usageError } from "./errors.js";
import { chompNewline, interactive, readTextFile, type Io } from "./io.js";
import type { Prompter } from "./prompts.js";

/**
 * Where a credential's value comes from. Never the command line: a value there would stay in
 * the shell history and be visible to every user of the machine in the process list.
 */
export type CredentialSource =
  | { name: string; from: "file"; path: string }
  | { name: string; from: "stdin" }
  | { name: string; from: "prompt" };

export const CREDENTIAL_HELP = "NAME=@FILE (read a file), NAME=- (read stdin) or NAME (prompt, hidden); repeatable. "
  + "A plain parameter's name is accepted too: its value is then kept secret, held as a credential (--param NAME=VALUE on edit puts it back in the clear)";

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Parses one `--credential` value. A literal value is refused without repeating it. */
export function parseCredentialSpec(spec: string): CredentialSource {
  const eq = spec.indexOf("=");
  const name = eq < 0 ? spec : spec.slice(0, eq);
  if (!NAME.test(name)) throw usageError(`--credential: "${name}" is not a parameter name (use ${CREDENTIAL_HELP})`);
  if (eq < 0) return { name, from: "prompt" };
  const value = spec.slice(eq + 1);
  if (value === "-") return { name, from: "stdin" };
  if (value.startsWith("@") && value.length > 1) return { name, from: "file", path: value.slice(1) };
  throw usageError(
    `--credential ${name}=...: credentials are never taken on the command line (they would stay in the shell history and the process list). ` +
    `Use --credential ${name}=@FILE, --credential ${name}=- (stdin) or --credential ${name} (prompt).`);
}

/** Reads every credential's value from its source. One trailing newline is stripped (files and `echo` add one). */
export async function readCredentials(io: Io, specs: readonly string[], prompter: () => Prompter): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const source of specs.map(parseCredentialSpec)) {
    if (source.name in values) throw usageError(`--credential ${source.name} is given twice`);
    if (source.from === "file") values[source.name] = chompNewline(await readTextFile(source.path, `--credential ${source.name}`));
    else if (source.from === "stdin") values[source.name] = chompNewline(await io.readStdin(`--credential ${source.name}=-`));
    else {
      if (!interactive(io)) throw usageError(`--credential ${source.name}: cannot prompt, this is not a terminal; use ${source.name}=@FILE or ${source.name}=-`);
      values[source.name] = await prompter().secret(`Value of credential ${source.name} (hidden)`);
    }
  }
  return values;
}

/** `--param NAME=VALUE` values as a record; an `=` is required (VALUE may be empty). */
export function parseAssignments(list: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw usageError(`${flag} ${item}: use ${flag} NAME=VALUE`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
