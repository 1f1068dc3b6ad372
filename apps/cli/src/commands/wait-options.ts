import type { Command } from "commander";
import type { Deployment } from "@flowplane/core/api";
import type { ApiClient } from "../client.js";
import { out, type Io } from "../io.js";
import { DEFAULT_WAIT, parseDuration, waitFor } from "../wait.js";

export interface WaitFlags {
  wait?: boolean;
  waitTimeout: string;
}

/** `--wait` and `--wait-timeout`, the same on every command that changes a deployment. */
export function addWaitOptions(c: Command, until: "ready" | "gone"): Command {
  return c
    .option("--wait", until === "ready"
      ? "follow the rollout until Ready (exit 7 if it fails or times out)"
      : "follow the undeploy until everything is removed (exit 7 on timeout)")
    .option("--wait-timeout <duration>", "how long --wait waits, e.g. 90s, 5m", DEFAULT_WAIT);
}

/** With --wait: follows the deployment to its goal and says so on stdout; without: returns it as it is. */
export async function maybeWait(io: Io, client: ApiClient, d: Deployment, o: WaitFlags, until: "ready" | "gone", quiet = false): Promise<Deployment> {
  if (!o.wait) return d;
  const timeoutMs = parseDuration(o.waitTimeout, "--wait-timeout");
  const done = await waitFor(io, client, d, { until, timeoutMs });
  if (!quiet) {
    out(io, until === "ready"
      ? `deployment "${done.displayName}" is Ready: ${done.status.readyReplicas}/${done.resources.replicas} replicas, generation ${done.generation}`
      : `deployment "${done.displayName}" is undeployed`);
  }
  return done;
}
