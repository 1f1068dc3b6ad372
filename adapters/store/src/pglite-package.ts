import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** PGlite's build output (its loader, WebAssembly and file bundle): beside its entry point. */
export function pgliteDist(): string {
  return dirname(createRequire(import.meta.url).resolve("@electric-sql/pglite"));
}

/**
 * The version of the PGlite whose build is in `dist`, or "unknown". The package's exports do not
 * include its package.json: it is read beside the build folder.
 */
export async function pgliteVersion(dist = pgliteDist()): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(join(dist, "..", "package.json"), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}
