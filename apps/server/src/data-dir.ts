import { chmod, lstat, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * The data folder holds the admin key, the credential key, the database and each deployment's
 * state and logs: only the control plane's user may read any of it. Replicas never read it
 * (they download their bundle over HTTP and run confined, see driver-local's sandbox.ts).
 *
 * The control plane runs with umask 077 (set first thing in main), so whatever it creates is
 * 0600/0700. A folder made before that (or by another tool) is brought to the same modes here
 * at every start: folders 0700, files 0600, recursively. PGlite's emscripten file system sets
 * the modes of the files it extracts and writes itself (0666, 0644), past the umask, so main
 * runs this again once the store is open; a file PGlite creates later keeps its mode until the
 * next start, but no other user can reach it: every folder above it is 0700. Symlinks are left
 * alone (never followed), so a link inside cannot make this touch anything outside.
 */
export async function secureDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await restrict(dir);
}

async function restrict(path: string): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    if ((st.mode & 0o7777) !== 0o700) await chmod(path, 0o700);
    for (const name of await readdir(path)) await restrict(join(path, name));
  } else if (st.isFile() && (st.mode & 0o7777) !== 0o600) {
    await chmod(path, 0o600);
  }
}
