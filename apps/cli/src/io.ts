import { readFile } from "node:fs/promises";
import { CliError, Exit } from "./errors.js";

/**
 * The process's edges, passed to every command instead of reaching for globals: the streams,
 * the environment (read once, in main) and whether a person is at a terminal.
 */
export interface Io {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** All of stdin, once: two flags cannot both read it (`--credential A=- --input -`). */
  readStdin(what: string): Promise<string>;
}

export function createIo(streams: Pick<Io, "stdin" | "stdout" | "stderr">, env: Io["env"], cwd: string): Io {
  let taken = false;
  return {
    ...streams, env, cwd,
    async readStdin(what) {
      if (taken) throw new CliError(Exit.usage, `${what}: stdin is already used by another option; read one of them from a file`);
      taken = true;
      const chunks: Buffer[] = [];
      for await (const c of streams.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}

/** Prompts need a person: stdin and stderr (where prompts are written) are both terminals. */
export const interactive = (io: Io): boolean => Boolean(io.stdin.isTTY && io.stderr.isTTY);

export const out = (io: Io, text: string): void => void io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
export const note = (io: Io, text: string): void => void io.stderr.write(text.endsWith("\n") ? text : `${text}\n`);

/** A file's text, or a usage error naming the flag (a missing file is the user's typo, not a bug). */
export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(Exit.usage, `${what}: cannot read ${path}${code ? ` (${code})` : ""}`);
  }
}

/** One trailing newline is the file's or the terminal's, not the secret's. */
export const chompNewline = (s: string): string => s.replace(/\r?\n$/, "");
