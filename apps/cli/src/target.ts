import { readFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { contextsPath, readContexts, type Context, type ContextsFile } from "./contexts.js";
import { usageError } from "./errors.js";
import type { Io } from "./io.js";

export const DEFAULT_SERVER = "http://localhost:8080";
export const ADMIN_KEY_FILE = "admin.key";

/** Which server to call, with which key, and the default project: what every API command needs. */
export interface Target {
  server: string;
  key: string | undefined;
  /** Where the key came from, for messages (never the key itself). */
  keySource: string;
  /**
   * The key is the admin key found in the local data folder, not one the user gave: it is sent
   * only once the server at `server` has proven that it holds it (client.ts, core/api admin-proof.ts).
   */
  localAdmin?: boolean;
  project: string | undefined;
  contextName: string | undefined;
  file: ContextsFile;
  path: string;
}

/** A server on this machine: its data folder (and admin key) may be ours to read. */
export function isLocalServer(server: string): boolean {
  try {
    const host = new URL(server).hostname;
    return host === "localhost" || host === "127.0.0.1" || host === "[::1]" || host === "::1";
  } catch {
    return false;
  }
}

/** The local server's data folder, as the server resolves it: FLOWPLANE_DATA_DIR, else ./.flowplane. */
export function localDataDir(io: Pick<Io, "env" | "cwd">): string {
  const dir = io.env.FLOWPLANE_DATA_DIR || ".flowplane";
  return isAbsolute(dir) ? dir : resolve(io.cwd, dir);
}

/** The organisation owner's key that a local server wrote on first start, when readable. */
export async function localAdminKey(io: Pick<Io, "env" | "cwd">): Promise<{ key: string; path: string } | undefined> {
  const path = join(localDataDir(io), ADMIN_KEY_FILE);
  try {
    const key = (await readFile(path, "utf8")).trim();
    return key ? { key, path } : undefined;
  } catch {
    return undefined;
  }
}

export function normalizeServer(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usageError(`"${url}" is not a URL: give the server as http(s)://host[:port]`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw usageError(`"${url}": the server URL must start with http:// or https://`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
}

/**
 * Resolution order, most specific first:
 * - server: FLOWPLANE_SERVER, the context (--context, FLOWPLANE_CONTEXT, the current one), localhost:8080;
 * - key: FLOWPLANE_ACCESS_KEY, the context's key when the context is for that same server (a key
 *   is never sent to a server it was not given for), the local admin key for a local server;
 * - project: --project, FLOWPLANE_PROJECT, the context's default project.
 */
export async function resolveTarget(io: Io, opts: { context?: string; project?: string }): Promise<Target> {
  const path = contextsPath(io.env);
  const file = await readContexts(path);
  const contextName = opts.context ?? io.env.FLOWPLANE_CONTEXT ?? file.current;
  let ctx: Context | undefined;
  if (contextName !== undefined) {
    ctx = file.contexts[contextName];
    if (!ctx && (opts.context !== undefined || io.env.FLOWPLANE_CONTEXT)) {
      throw usageError(`no context named "${contextName}" (see \`flowplane context list\`)`);
    }
  }
  const server = normalizeServer(io.env.FLOWPLANE_SERVER || ctx?.server || DEFAULT_SERVER);
  const sameServer = ctx !== undefined && normalizeServer(ctx.server) === server;
  let key: string | undefined;
  let keySource = "no key";
  let localAdmin = false;
  if (io.env.FLOWPLANE_ACCESS_KEY) {
    [key, keySource] = [io.env.FLOWPLANE_ACCESS_KEY, "FLOWPLANE_ACCESS_KEY"];
  } else if (sameServer && ctx?.key) {
    [key, keySource] = [ctx.key, `context ${contextName}`];
  } else if (isLocalServer(server)) {
    const local = await localAdminKey(io);
    if (local) [key, keySource, localAdmin] = [local.key, local.path, true];
  }
  const project = opts.project ?? (io.env.FLOWPLANE_PROJECT || undefined) ?? (sameServer ? ctx?.project : undefined);
  return { server, key, keySource, ...(localAdmin ? { localAdmin } : {}), project, contextName: ctx ? contextName : undefined, file, path };
}
