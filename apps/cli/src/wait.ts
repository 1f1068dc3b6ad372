import type { Condition, Deployment } from "@flowplane/core/api";
import type { ApiClient } from "./client.js";
import { CliError, Exit, usageError } from "./errors.js";
import { note, type Io } from "./io.js";

export const DEFAULT_WAIT = "5m";
const POLL_MS = 500;
/**
 * A change is accepted before the reconciler looks at it, so for a moment the status still
 * describes the previous generation. A Failed phase of an older generation is therefore only
 * believed once it has lasted this long (or once the new generation has been observed).
 */
const STALE_FAILURE_GRACE_MS = 5_000;

/** `90`, `90s`, `5m`, `1h` → milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw usageError(`${flag} ${value}: use a duration such as 90s, 5m or 1h`);
  const n = Number(m[1]);
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"]);
}

/** One line describing where a deployment stands: phase, replicas, generations and every condition. */
export function describeStatus(d: Deployment): string {
  const s = d.status;
  const conds = s.conditions.map((c) => `${c.type}=${c.status}${c.status === "True" ? "" : `(${c.reason})`}`).join(" ");
  return `${s.phase.padEnd(12)} ${s.readyReplicas}/${d.resources.replicas} ready  generation ${d.generation} (observed ${s.observedGeneration})${conds ? `  ${conds}` : ""}`;
}

/** Why a deployment failed: the RuntimeAvailable condition (it carries the phase's reason), else the first condition that is False. */
export function failureReason(d: Deployment): string {
  const pick = (c: Condition | undefined) => (c ? `${c.reason}: ${c.message}` : undefined);
  const conds = d.status.conditions;
  return pick(conds.find((c) => c.type === "RuntimeAvailable" && c.status !== "True"))
    ?? pick(conds.find((c) => c.status === "False"))
    ?? "no reason given";
}

export interface WaitOptions {
  /** `ready`: Ready at the current generation. `gone`: undeployed (deletedAt set, or no longer found). */
  until: "ready" | "gone";
  timeoutMs: number;
  pollMs?: number;
}

/**
 * Polls the deployment and shows each change: one line per change when stderr is not a
 * terminal (logs, CI), one line rewritten in place (with a new line per phase) when it is.
 * Resolves on success; throws exit code 7 on Failed or on timeout.
 */
export async function waitFor(io: Io, client: ApiClient, start: Deployment, opts: WaitOptions): Promise<Deployment> {
  const tty = Boolean(io.stderr.isTTY);
  const began = Date.now();
  const deadline = began + opts.timeoutMs;
  const target = start.generation;
  let lastKey = "";
  let lastPhase = "";
  let failedSince: number | undefined;
  let d = start;
  const show = (line: string) => {
    const stamp = `[${((Date.now() - began) / 1000).toFixed(1).padStart(5)}s]`;
    if (!tty) return note(io, `${stamp} ${line}`);
    // A live line: rewritten in place; a new phase keeps the previous line on screen.
    if (lastPhase && d.status.phase !== lastPhase) io.stderr.write("\n");
    io.stderr.write(`\r\x1b[2K${stamp} ${line}`);
  };
  const finish = () => {
    if (tty && lastKey) io.stderr.write("\n");
  };
  for (;;) {
    const key = JSON.stringify([d.status, d.generation, d.deletedAt]);
    if (key !== lastKey || tty) show(describeStatus(d));
    lastKey = key;
    lastPhase = d.status.phase;

    if (opts.until === "ready") {
      // A scale is no new generation: Ready counts once as many replicas as asked are ready.
      if (d.status.phase === "Ready" && d.status.observedGeneration >= target && d.status.readyReplicas >= d.resources.replicas) return (finish(), d);
      // Idle (scaled to zero) is as good as Ready: the next request wakes it, which waiting would not.
      if (d.status.phase === "Idle" && d.status.observedGeneration >= target) return (finish(), d);
      if (d.deletionRequestedAt) throw (finish(), new CliError(Exit.deployment, `deployment "${d.displayName}" is being undeployed`));
      if (d.disabled) throw (finish(), new CliError(Exit.deployment, `deployment "${d.displayName}" is disabled (by ${d.disabled.by}): \`flowplane enable ${d.displayName}\` serves it again`));
      if (d.status.phase === "Failed") {
        failedSince ??= Date.now();
        if (d.status.observedGeneration >= target || Date.now() - failedSince >= STALE_FAILURE_GRACE_MS) {
          finish();
          throw new CliError(Exit.deployment, `deployment "${d.displayName}" failed: ${failureReason(d)}`);
        }
      } else {
        failedSince = undefined;
      }
    } else if (d.deletedAt) {
      return (finish(), d);
    }
    if (Date.now() >= deadline) {
      finish();
      const want = opts.until === "ready" ? "Ready" : "undeployed";
      const after = opts.timeoutMs < 1000 ? `${opts.timeoutMs}ms` : `${Math.round(opts.timeoutMs / 1000)}s`;
      throw new CliError(Exit.deployment, `timed out after ${after} waiting for "${d.displayName}" to be ${want}; last status: ${describeStatus(d)}`);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? POLL_MS));
    try {
      d = await client.do("getDeployment", { params: { projectId: start.projectId, id: start.id } });
    } catch (e) {
      // Undeployed deployments keep their record, but a server that forgets them has finished too.
      if (opts.until === "gone" && e instanceof CliError && e.exitCode === Exit.notFound) return (finish(), d);
      finish();
      throw e;
    }
  }
}
