import { ForbiddenError, UnauthenticatedError, ValidationError, type IdentityVerifier, type Logger, type RunTrace, type Store } from "@flowplane/core";
import { traceBatchSchema } from "@flowplane/core/api";
import type { TraceExporter } from "./otlp.js";

/**
 * The internal endpoint replicas send their runs' traces to (issue #19 item 2), beside the
 * bundle endpoint and with the same proof: the deployment's identity token. A replica stores
 * traces for its own deployment only (another deployment's token: 403). Each batch is one
 * INSERT; a second trace for the same request id is ignored. Then, when an OTLP collector is
 * configured, the batch is handed to the exporter (which batches and sends it on its own time).
 */
export interface TraceIngestOptions {
  store: Pick<Store, "insertTraces" | "getDeployment">;
  verifier: IdentityVerifier;
  exporter?: TraceExporter | undefined;
  log?: Logger;
}

export class TraceIngest {
  constructor(private readonly o: TraceIngestOptions) {}

  async receive(deploymentId: string, token: string | undefined, body: unknown): Promise<{ stored: number }> {
    const owner = token ? await this.o.verifier.verify(token) : null;
    if (!owner) throw new UnauthenticatedError("a deployment identity token is required");
    if (owner !== deploymentId) throw new ForbiddenError("this identity token belongs to another deployment");
    const parsed = traceBatchSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError([{ field: issue?.path.join(".") || "body", message: issue?.message ?? "invalid" }]);
    }
    const traces = parsed.data.traces as RunTrace[];
    if (traces.length === 0) return { stored: 0 };
    await this.o.store.insertTraces(deploymentId, traces);
    if (this.o.exporter) {
      const d = await this.o.store.getDeployment(deploymentId);
      this.o.exporter.export({ deploymentId, projectId: d?.projectId ?? null, deploymentName: d?.displayName ?? null }, traces);
    }
    return { stored: traces.length };
  }
}
