import { chmod, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { CliError, Exit } from "./errors.js";

/**
 * Contexts: named (server, access key, default project) triples in one file. The file holds
 * access keys, so it is written 0600 in a 0700 folder, atomically (a crash never leaves half a file).
 */
export interface Context {
  server: string;
  /** Absent for a local server whose admin key is found at each call (never copied here). */
  key?: string;
  /** Default project (name or id) for commands run without --project. */
  project?: string;
}

export interface ContextsFile {
  current?: string;
  contexts: Record<string, Context>;
}

/** `$FLOWPLANE_CONFIG`, else `$XDG_CONFIG_HOME/flowplane/config.json`, else `~/.config/flowplane/config.json`. */
export function contextsPath(env: Readonly<Record<string, string | undefined>>): string {
  if (env.FLOWPLANE_CONFIG) return env.FLOWPLANE_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "flowplane", "config.json");
}

export async function readContexts(path: string): Promise<ContextsFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { contexts: {} };
    throw new CliError(Exit.unexpected, `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<ContextsFile>;
    const contexts = parsed.contexts && typeof parsed.contexts === "object" ? parsed.contexts : {};
    return { ...(typeof parsed.current === "string" ? { current: parsed.current } : {}), contexts };
  } catch {
    throw new CliError(Exit.unexpected, `${path} is not valid JSON: fix it or remove it and log in again`);
  }
}

export async function writeContexts(path: string, file: ContextsFile): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode applies only to folders it creates; an existing one is left as the user made it.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600); // the umask may have narrowed the mode further, never widened it; make it exact
  await rename(tmp, path);
}

/** True when the file can be read by others: worth a warning, since it holds keys. */
export async function tooOpen(path: string): Promise<boolean> {
  try {
    return ((await stat(path)).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

/** A context name from a server URL: `localhost-8080`, `flowplane.example.com`. */
export function contextNameFor(server: string): string {
  const u = new URL(server);
  return u.port ? `${u.hostname}-${u.port}` : u.hostname;
}
