import { ForbiddenError, UnauthenticatedError, ValidationError, type IdentityVerifier, type Logger, type RunTrace, type Store } from "@flowplane/core";
import { traceBatchSchema } from "@flowplane/core/api";
import type { TraceExporter } from "./otlp.js";

/**
 * The internal endpoint replicas send their runs' traces to (issue #19 item 2), beside the
 * bundle endpoint and with the same proof: the deployment's identity token. A replica stores
 * traces for its own deployment only (another deployment's token: 403). Each batch is one
 * INSERT; a trace for a request id already stored, or named twice in the batch, is ignored (the
 * first one stays), and the answer says so: `stored` counts the rows written, `ignored` the
 * others, so a batch sent again (a retry) stores nothing and exports nothing twice. Then, when
 * an OTLP collector is configured, the traces stored are handed to the exporter (which batches
 * and sends them on its own time).
 */
export interface TraceIngestOptions {
  store: Pick<Store, "insertTraces" | "getDeployment">;
  verifier: IdentityVerifier;
  exporter?: TraceExporter | undefined;
  log?: Logger;
}

/** Proof that a request's token is its deployment's own (TraceIngest.authorize); the batch needs it. */
export interface TraceGrant {
  readonly deploymentId: string;
}

export class TraceIngest {
  constructor(private readonly o: TraceIngestOptions) {}

  /**
   * 401 without a valid identity token, 403 with another deployment's. Called on the headers
   * alone (an onRequest hook), before the body is read: the endpoint sits on the public port, and
   * a body of up to the body limit parsed for anyone who asks cost the server its memory and
   * its API's latency (20 unauthenticated 9 MB posts: +200 MB and 15 s).
   */
  async authorize(deploymentId: string, token: string | undefined): Promise<TraceGrant> {
    const owner = token ? await this.o.verifier.verify(token) : null;
    if (!owner) throw new UnauthenticatedError("a deployment identity token is required");
    if (owner !== deploymentId) throw new ForbiddenError("this identity token belongs to another deployment");
    return { deploymentId };
  }

  async receive(grant: TraceGrant, body: unknown): Promise<{ stored: number; ignored: number }> {
    const { deploymentId } = grant;
    const parsed = traceBatchSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError([{ field: issue?.path.join(".") || "body", message: issue?.message ?? "invalid" }]);
    }
    const traces = parsed.data.traces as RunTrace[];
    if (traces.length === 0) return { stored: 0, ignored: 0 };
    // A request id named twice in the batch: its first trace only, whatever order the INSERT takes.
    const seen = new Set<string>();
    const unique = traces.filter((t) => !seen.has(t.requestId) && Boolean(seen.add(t.requestId)));
    const ids = new Set(await this.o.store.insertTraces(deploymentId, unique));
    const stored = unique.filter((t) => ids.has(t.requestId));
    if (this.o.exporter && stored.length > 0) {
      const d = await this.o.store.getDeployment(deploymentId);
      this.o.exporter.export({ deploymentId, projectId: d?.projectId ?? null, deploymentName: d?.displayName ?? null }, stored);
    }
    return { stored: stored.length, ignored: traces.length - stored.length };
  }
}
