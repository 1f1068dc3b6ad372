import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * What the local driver remembers of a deployment across its own restarts, in
 * `<folder>/state.json` (0600): which processes it started, on which ports, for which
 * generation. Never a parameter or credential value: those live only in the replicas'
 * environment and in the reconciler's next `apply`.
 */
export interface PersistedReplica {
  id: string;
  pid: number;
  port: number;
  generation: number;
  startedAt: number;
  restarts: number;
}

export interface PersistedState {
  resourceName: string;
  deploymentId: string;
  appliedGeneration: number;
  replicas: PersistedReplica[];
}

export const STATE_FILE = "state.json";

export async function readState(dir: string): Promise<PersistedState | null> {
  try {
    return JSON.parse(await readFile(join(dir, STATE_FILE), "utf8")) as PersistedState;
  } catch {
    return null;
  }
}

/** Atomic (write then rename), so a crash leaves the old state or the new one, never half of one. */
export async function writeState(dir: string, s: PersistedState): Promise<void> {
  const path = join(dir, STATE_FILE);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(s, null, 1), { mode: 0o600 });
  await rename(tmp, path);
}
