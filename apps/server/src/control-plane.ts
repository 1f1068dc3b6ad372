import type { FastifyInstance } from "fastify";
import { createDeploymentCredentials, createGatewaySecrets, createIdentityTokens, createSecretBox, deriveKey, DEFAULT_WARM_SECONDS, type DeploymentCredentials, type DnsPeer, type IdentityTokens, type IdentityVerifier, type RuntimeDriver, type Store } from "@flowplane/core";
import { AuthFailures } from "./auth-failures.js";
import type { BodyBudget } from "./http/body-budget.js";
import { buildApi } from "./http/app.js";
import type { AdminKeyProver } from "./http/admin-key-proof.js";
import type { RootLogger } from "@flowplane/logging";
import { BundleDownloadService } from "./services/bundle-download.js";
import { BundleService } from "./services/bundles.js";
import type { ServiceDeps } from "./services/context.js";
import { threadedPreparer, type VersionPreparer } from "./services/version-preparer.js";
import { DeploymentService } from "./services/deployments.js";
import { IdentityService } from "./services/identity.js";
import type { FollowSlotLimits } from "./runs/follow-slots.js";
import { RunsService } from "./runs/service.js";
import type { DeploymentSampler } from "./deployment-metrics/sampler.js";
import { MetricsService } from "./deployment-metrics/service.js";
import { TraceIngest } from "./traces/ingest.js";
import type { TraceExporter } from "./traces/otlp.js";

export interface ControlPlaneOptions {
  store: Store;
  secretKey: Buffer;
  urls: ServiceDeps["urls"];
  bodyLimit: number;
  /** How much request-body memory callers hold at once (http/body-budget.ts); default from bodyLimit. */
  bodyBudget?: BodyBudget;
  /** Answers the CLI's admin-key challenge once the admin key is known (http/admin-key-proof.ts). */
  adminKeyProver?: AdminKeyProver;
  /** The process's logger, or false for none (tests). */
  logger: RootLogger | false;
  now?: () => Date;
  version?: string;
  /** Wakes the reconciler after a change of desired state. */
  notify?: (deploymentId: string) => void;
  /** How replica identity tokens are checked; default: the HMAC tokens issued by `tokens`. */
  verifier?: IdentityVerifier;
  /** Kubernetes rendering settings (image, flowplane's namespace) and the internal bundle URL base. */
  kubernetes?: { image: string; systemNamespace: string; installation?: string; modelHosts?: string[]; egressExclude?: string[]; dns?: DnsPeer[] };
  internalUrl?: string;
  /** Reads replicas' logs for the logs endpoint (the process's driver); none: that endpoint answers 409. */
  logs?: Pick<RuntimeDriver, "readLogs">;
  /** Samples replicas for the metrics endpoint (the process's driver); none: those series answer "not available". */
  sampler?: DeploymentSampler;
  /** The logs endpoint's follow mode: poll interval and longest stream (tests shorten them). */
  follow?: { pollMs?: number; maxMs?: number; recheckMs?: number; slots?: FollowSlotLimits };
  /** Where received traces are also exported (OTLP, when FLOWPLANE_OTLP_ENDPOINT is set). */
  traceExporter?: TraceExporter;
  /** What each deployment's stored traces may take, in bytes (TraceIngestOptions.maxBytes; default DEFAULT_TRACE_BYTES). */
  traceMaxBytes?: number;
  /** How long the revision before a change keeps a warm replica (default DEFAULT_WARM_SECONDS; 0: none). */
  warmRevisionSeconds?: number;
  /** Test mode: check every API answer against the contract (see `ApiOptions.checkAnswers`). */
  checkAnswers?: (problem: string) => void;
  /** This start's relay secret, shared with the gateway workers (`ApiOptions.relaySecret`). */
  relaySecret?: string;
  /** The API's bad-key budget per client address (auth-failures.ts); default 20 at once, 2/s. */
  badKeyBudget?: { burst: number; perSecond: number };
  /** Where publishes are parsed and checked; default: a large one on a worker thread (version-preparer.ts). */
  prepareVersion?: VersionPreparer;
}

export const DEFAULT_KUBERNETES = { image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane" };

export interface ControlPlane {
  app: FastifyInstance;
  identity: IdentityService;
  bundles: BundleService;
  deployments: DeploymentService;
  /** Run history and replica logs. */
  runs: RunsService;
  /** Deployments' metrics. */
  metrics: MetricsService;
  /** Issues the identity tokens of the local driver's replicas. */
  tokens: IdentityTokens;
  /** Seals and opens deployments' credential values (one key, the server's). */
  credentials: DeploymentCredentials;
  /** The secret the gateway sends to a deployment's replicas (they refuse other callers). */
  gatewaySecrets: (deploymentId: string) => string;
  /** Bad credentials per client address, for the API and /metrics alike (auth-failures.ts). */
  authFailures: AuthFailures;
}

/** Wires the services and the HTTP API over one store. Used by main and by the API tests. */
export function createControlPlane(o: ControlPlaneOptions): ControlPlane {
  const internalUrl = o.internalUrl ?? "http://flowplane.flowplane.svc.cluster.local:8080";
  const gatewaySecrets = createGatewaySecrets(o.secretKey);
  const deps: ServiceDeps = {
    store: o.store, credentials: createDeploymentCredentials(createSecretBox(o.secretKey)), now: o.now ?? (() => new Date()), urls: o.urls,
    warmRevisionSeconds: o.warmRevisionSeconds ?? DEFAULT_WARM_SECONDS,
    manifests: {
      ...(o.kubernetes ?? DEFAULT_KUBERNETES),
      checksumKey: deriveKey(o.secretKey, "manifest checksum"),
      bundleUrl: (id) => `${internalUrl}/internal/v1/deployments/${id}/bundle`,
      gatewaySecret: gatewaySecrets,
      // The reconciler gives replicas the gateway's body limit (serve.ts): the manifests shown say the same.
      maxBodyBytes: o.bodyLimit,
    },
  };
  if (o.notify) deps.notify = o.notify;
  const tokens = createIdentityTokens(o.secretKey);
  const verifier: IdentityVerifier = o.verifier ?? { verify: async (t) => tokens.verify(t) };
  const identity = new IdentityService(deps);
  const bundles = new BundleService(deps, o.prepareVersion ?? threadedPreparer());
  const deployments = new DeploymentService(deps);
  const download = new BundleDownloadService({ store: o.store, verifier });
  const runs = new RunsService({ store: o.store, deployments, logs: o.logs, followPollMs: o.follow?.pollMs, followMaxMs: o.follow?.maxMs, followRecheckMs: o.follow?.recheckMs, followSlots: o.follow?.slots });
  const metrics = new MetricsService({ store: o.store, deployments, sampler: o.sampler, ...(o.now ? { now: () => o.now!().getTime() } : {}) });
  const traces = new TraceIngest({ store: o.store, verifier, exporter: o.traceExporter, ...(o.logger ? { log: o.logger } : {}), ...(o.traceMaxBytes ? { maxBytes: o.traceMaxBytes } : {}) });
  // One failed-authentication budget for every credential this process checks (the API's keys,
  // /metrics'), on the control plane's clock (tests move it).
  const authFailures = new AuthFailures({ ...(o.badKeyBudget ? { budget: o.badKeyBudget } : {}), ...(o.now ? { now: () => o.now!().getTime() } : {}) });
  const app = buildApi({ identity, bundles, deployments, runs, metrics, download, traces, bodyLimit: o.bodyLimit, logger: o.logger, version: o.version ?? "0.1.0", authFailures,
    ...(o.checkAnswers ? { checkAnswers: o.checkAnswers } : {}),
    ...(o.relaySecret ? { relaySecret: o.relaySecret } : {}),
    ...(o.bodyBudget ? { bodyBudget: o.bodyBudget } : {}),
    ...(o.adminKeyProver ? { adminKeyProver: o.adminKeyProver } : {}) });
  return { app, identity, bundles, deployments, runs, metrics, tokens, gatewaySecrets, credentials: deps.credentials, authFailures };
}
