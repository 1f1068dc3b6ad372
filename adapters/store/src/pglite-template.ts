import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, readFile, readdir, realpath, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { MIGRATIONS } from "./migrations.js";
import { pgliteVersion } from "./pglite-package.js";

/**
 * A new PGlite database folder is made by copying a template, never by running initdb in the
 * control plane's own process. Why: initdb inside PGlite's WebAssembly touches ~600 MiB of its
 * linear memory, which a WebAssembly instance never gives back, so a control plane whose first
 * start ran initdb kept ~750 MiB for its whole life (a restart on the same folder: ~250 MiB).
 * The template is made once, by a child process that exits (its memory goes with it): at build
 * time (scripts/build.mjs) or, when the build did not, at the first start that needs it. It
 * holds the schema too (every migration applied), so a first start only copies and opens.
 *
 * Invariants:
 * - the template is complete and current exactly when its marker holds this PGlite's version and
 *   the digest of the migrations (written last in the staging folder, which one rename puts in
 *   place, so a crash never leaves a half template in use, and a new migration or PGlite makes a
 *   new one); a current template is never removed, so concurrent first starts may copy it while
 *   others finish making theirs (an outdated one is moved aside, and a copy that lost it retries);
 * - a data folder appears all at once: the copy goes to a staging folder renamed onto the target,
 *   so a killed first start leaves either nothing or a complete database.
 */

const MARKER = ".flowplane-template";
/** The same database as a tar file, for databases in memory (PGlite's loadDataDir). */
const TAR = ".flowplane-template.tar";
/** Where the template lives: beside this package's build output (not tracked by git). */
const DEFAULT_TEMPLATE_DIR = fileURLToPath(new URL("../pglite-template", import.meta.url));
const INITDB_SCRIPT = fileURLToPath(new URL("./pglite-initdb.js", import.meta.url));

/** What a template must have been made with: this PGlite and these migrations. */
async function templateKey(): Promise<string> {
  const migrations = createHash("sha256").update(JSON.stringify(MIGRATIONS)).digest("hex").slice(0, 16);
  return `format 2 pglite ${await pgliteVersion()} migrations ${migrations}`;
}

/**
 * PGlite's file system gives its files modes of its own (0666, 0644) past the umask. Every new
 * database starts as a copy of the template, so nobody but this user may write (or read) it.
 */
async function restrictTree(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isDirectory() || e.isFile()) await chmod(join(e.parentPath, e.name), e.isDirectory() ? 0o700 : 0o600);
  }
}

/**
 * Copies the folder `from` to `to` (which must not exist). Not fs.cp: for PGlite's ~1,000 small
 * files it takes ~750 ms, where these parallel copyFile calls (copy_file_range) take ~100 ms.
 */
async function copyTree(from: string, to: string, skip: (name: string) => boolean): Promise<void> {
  const entries = await readdir(from, { recursive: true, withFileTypes: true });
  const target = (e: { parentPath: string; name: string }) => join(to, relative(from, join(e.parentPath, e.name)));
  await mkdir(to, { mode: 0o700 });
  // Parents sort before their children, so each mkdir finds its parent made.
  for (const d of entries.filter((e) => e.isDirectory()).map(target).sort()) await mkdir(d, { mode: 0o700 });
  const files = entries.filter((e) => e.isFile() && !skip(e.name));
  for (let i = 0; i < files.length; i += 64) {
    await Promise.all(files.slice(i, i + 64).map((e) => copyFile(join(e.parentPath, e.name), target(e))));
  }
}

async function isEmptyOrAbsent(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch {
    return true;
  }
}

/** Creates a database with the schema in `dir`, in a child process (pglite-initdb.ts); rejects with its output on failure. */
function initdbInChild(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [INITDB_SCRIPT, dir], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (b: Buffer) => { if (err.length < 4096) err += b.toString(); });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`creating the PGlite database failed (exit ${code}): ${err.trim().slice(-500)}`))));
  });
}

/**
 * Makes sure a complete template exists in `templateDir` and returns it; `undefined` when the
 * folder cannot be written (a read-only install): callers then run initdb in a child directly.
 */
export async function preparePgliteTemplate(templateDir = DEFAULT_TEMPLATE_DIR): Promise<string | undefined> {
  const key = await templateKey();
  const marker = join(templateDir, MARKER);
  const current = async () => (await readFile(marker, "utf8").catch(() => "")) === key;
  if (await current()) return templateDir;
  const staging = `${templateDir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const aside = `${templateDir}.old-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await initdbInChild(staging);
    await restrictTree(staging);
    // Complete before it is installed (tar and marker inside): the folder appears whole, by one rename.
    await rename(`${staging}.tar`, join(staging, TAR));
    await chmod(join(staging, TAR), 0o600);
    await writeFile(join(staging, MARKER), key, { mode: 0o600 });
    // Several first starts may make one at once: a current template another one installed
    // meanwhile is never removed (others may be copying it); only an outdated one is moved aside.
    if (await current()) {
      await rm(staging, { recursive: true, force: true });
      return templateDir;
    }
    await rename(templateDir, aside).catch((e: NodeJS.ErrnoException) => { if (e.code !== "ENOENT") throw e; });
    await rename(staging, templateDir);
    await rm(aside, { recursive: true, force: true });
    return templateDir;
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    await rm(`${staging}.tar`, { force: true });
    await rm(aside, { recursive: true, force: true });
    // Another process may have put a complete template in place meanwhile.
    if (await current()) return templateDir;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EROFS" || code === "EPERM") return undefined;
    throw e;
  }
}

/** Whether process `pid` is alive (or not ours to signal: alive then, as far as we can tell). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the staging folders of first starts killed mid-copy (`<target>.init-<pid>-<hex>` of a
 * pid no longer alive): ~25 MiB each, never used, and otherwise kept forever beside the data.
 */
async function removeDeadStaging(target: string): Promise<void> {
  const prefix = `${basename(target)}.init-`;
  const names = await readdir(dirname(target)).catch(() => [] as string[]);
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)-[0-9a-f]{8}$/.exec(name.slice(prefix.length)) : null;
    if (m && Number(m[1]) !== process.pid && !isAlive(Number(m[1]))) await rm(join(dirname(target), name), { recursive: true, force: true });
  }
}

/**
 * Creates a new database in `dataDir` (absent or empty) from the template; after it returns,
 * opening `dataDir` with PGlite finds an existing database with the current schema.
 */
export async function createPgliteDir(dataDir: string, templateDir?: string): Promise<void> {
  if (!(await isEmptyOrAbsent(dataDir))) throw new Error(`${dataDir} is not empty: not creating a database in it`);
  // A data folder that is a symlink (to another disk, say) stays one: the database goes where it points.
  const target = await realpath(dataDir).catch(() => dataDir);
  await removeDeadStaging(target);
  for (let attempt = 1; ; attempt++) {
    const template = await preparePgliteTemplate(templateDir);
    const staging = `${target}.init-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      if (template) await copyTree(template, staging, (name) => name === MARKER || name === TAR);
      else {
        await initdbInChild(staging);
        await rm(`${staging}.tar`, { force: true });
      }
      await rmdir(target).catch(() => undefined); // the empty folder the caller may have made
      await rename(staging, target);
      return;
    } catch (e) {
      await rm(staging, { recursive: true, force: true });
      // An outdated template replaced by a concurrent first start while it was being copied: once more.
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && template && attempt < 3) continue;
      throw e;
    }
  }
}

/**
 * The template as a tar file, for a database in memory (tests): loading it takes a fraction of
 * initdb's time and memory. `undefined` when no template can be made (a read-only install).
 */
export async function pgliteTemplateTar(templateDir?: string): Promise<Buffer | undefined> {
  const template = await preparePgliteTemplate(templateDir);
  return template ? readFile(join(template, TAR)) : undefined;
}
