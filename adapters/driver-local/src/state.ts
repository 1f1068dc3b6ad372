import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { LISTENER_ID } from "@flowplane/core";

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
  /** Where the replica answers /ready (its probe listener); the main port for state files written before it had one. */
  probePort?: number;
  /** Its calls' listener (core's listenerId, processes.ts PassedListener); absent for replicas started before it was recorded. */
  listener?: string;
  generation: number;
  /** The deployment's revision it was started for (absent in state files written before revisions). */
  revision?: number;
  startedAt: number;
  restarts: number;
  /** Its log was opened for appending, so the driver may rotate it (log-rotation.ts); absent for replicas started before. */
  appendLog?: true;
}

export interface PersistedState {
  resourceName: string;
  deploymentId: string;
  appliedGeneration: number;
  replicas: PersistedReplica[];
}

export const STATE_FILE = "state.json";

const isInt = (v: unknown, min = 0): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= min;

function replicaOf(v: unknown): PersistedReplica | null {
  if (typeof v !== "object" || v === null) return null;
  const r = v as Record<string, unknown>;
  if (typeof r.id !== "string" || !/^[a-z0-9]{1,32}$/.test(r.id)) return null;
  if (!isInt(r.pid, 1) || !isInt(r.port, 1) || r.port > 65535 || !isInt(r.generation) || !isInt(r.startedAt) || !isInt(r.restarts)) return null;
  const probePort = isInt(r.probePort, 1) && r.probePort <= 65535 ? r.probePort : undefined;
  const revision = isInt(r.revision, 1) ? r.revision : undefined;
  const listener = typeof r.listener === "string" && LISTENER_ID.test(r.listener) ? r.listener : undefined;
  return { id: r.id, pid: r.pid, port: r.port, ...(probePort ? { probePort } : {}), ...(listener ? { listener } : {}), generation: r.generation, ...(revision ? { revision } : {}), startedAt: r.startedAt, restarts: r.restarts, ...(r.appendLog === true ? { appendLog: true as const } : {}) };
}

/**
 * The state in `dir`, or null when it is missing, unreadable or not a state file. Never throws:
 * a corrupt file costs the adoption of the replicas it listed (the driver's orphan sweep then
 * stops them by their command-line marker), never the driver.
 */
export async function readState(dir: string): Promise<PersistedState | null> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, STATE_FILE), "utf8"));
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null) return null;
  const s = raw as Record<string, unknown>;
  if (typeof s.resourceName !== "string" || typeof s.deploymentId !== "string" || !isInt(s.appliedGeneration) || !Array.isArray(s.replicas)) return null;
  const replicas = s.replicas.map(replicaOf).filter((r): r is PersistedReplica => r !== null);
  return { resourceName: s.resourceName, deploymentId: s.deploymentId, appliedGeneration: s.appliedGeneration, replicas };
}

/**
 * One deployment's state file, with one writer at a time: writes are chained, so they land in
 * the order they were asked for and the last one wins. Each write goes to a temporary file of
 * its own name (pid and random suffix: two processes sharing a data folder never share one),
 * is flushed, then renamed over `state.json`, so a crash leaves the old state or the new one,
 * never half of one. A write identical to the last one is skipped.
 */
export class StateFile {
  private chain: Promise<void> = Promise.resolve();
  private last: string | undefined;

  constructor(readonly dir: string) {}

  write(s: PersistedState): Promise<void> {
    const text = JSON.stringify(s, null, 1);
    const run = this.chain.then(async () => {
      if (text === this.last) return;
      await writeAtomically(join(this.dir, STATE_FILE), text);
      this.last = text;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Resolves when every write asked for so far has finished (or failed). */
  settled(): Promise<void> {
    return this.chain;
  }
}

/**
 * Writes a file whole or not at all (a temporary file renamed over it), 0600; synced to disk
 * first unless `sync` is false (a file whose loss in a power cut costs nothing but time).
 */
export async function writeAtomically(path: string, text: string | Uint8Array, { sync = true }: { sync?: boolean } = {}): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(text);
      if (sync) await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
