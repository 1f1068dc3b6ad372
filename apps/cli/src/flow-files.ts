import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { CliError, Exit, usageError } from "./errors.js";
import { readTextFile } from "./io.js";

/**
 * Langflow exports named on the command line: files, or folders whose `*.json` files are taken
 * in name order (so the bundle, and its digest, do not depend on the file system's order).
 * A file may hold one flow export, an array of them, or a `{flows: [...]}` collection export.
 */
export async function loadFlowFiles(paths: readonly string[]): Promise<unknown[]> {
  const files: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch {
      throw usageError(`${p}: no such file or folder`);
    }
    if (!isDir) {
      files.push(p);
      continue;
    }
    const inside = (await readdir(p)).filter((f) => f.toLowerCase().endsWith(".json")).sort();
    if (inside.length === 0) throw usageError(`${p}: the folder holds no .json flow exports`);
    files.push(...inside.map((f) => join(p, f)));
  }
  const flows: unknown[] = [];
  for (const f of files) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readTextFile(f, "publish"));
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(Exit.validation, `${f} is not valid JSON: ${(e as Error).message}`);
    }
    if (Array.isArray(parsed)) flows.push(...parsed);
    else if (parsed && typeof parsed === "object" && Array.isArray((parsed as { flows?: unknown }).flows)) flows.push(...(parsed as { flows: unknown[] }).flows);
    else flows.push(parsed);
  }
  return flows;
}
