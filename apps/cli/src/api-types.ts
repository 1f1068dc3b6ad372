/**
 * The shapes the control-plane API answers (DESIGN section 8), as far as the CLI reads them.
 * Declared here rather than imported from the server: the CLI depends on the HTTP contract only.
 */
export interface Project {
  id: string;
  name: string;
}

export interface Me {
  id: string;
  name: string;
  kind: string;
  orgOwner: boolean;
  roles: Record<string, "owner" | "editor" | "viewer">;
}

export interface Parameter {
  name: string;
  kind: "credential" | "plain" | "model";
  default?: string;
  usedBy: { flowId: string; nodeId: string; field: string }[];
}

export interface BundleVersion {
  name: string;
  versionTag: string;
  description: string;
  accessLevel: "project" | "global";
  allowedProjects: string[];
  digest: string;
  parameters: Parameter[];
  flows: { id: string; name: string; description: string; endpointName: string | null; components: string[] }[];
  compatibility: { native: { supported: boolean; missing: { type: string }[] }; lfx?: { supported: boolean; missing?: { nodeId: string; type: string; detail: string }[] }; recommendedEngine: string };
  /** Publish warnings, each naming flow, node and field (absent from servers older than them). */
  warnings?: { code: string; flowId: string; flowName: string; nodeId: string; field: string; message: string }[];
  createdAt: string;
}

export interface BundleSummary {
  name: string;
  latest: BundleVersion;
  versionCount: number;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export type Phase = "Provisioning" | "Starting" | "Ready" | "Updating" | "Degraded" | "Failed" | "Deleting";

export interface Resources {
  replicas: number;
  cpu: { request: string; limit: string };
  memory: { request: string; limit: string };
}

export interface RuntimeConfig {
  engine: string;
  logLevel: string;
  requestTimeoutSeconds: number;
}

export interface Deployment {
  id: string;
  projectId: string;
  displayName: string;
  resourceName: string;
  bundle: { name: string; version: string; digest: string };
  networkAccess: "public" | "private";
  runtime: RuntimeConfig;
  parameters: Record<string, string>;
  credentials: Record<string, string>;
  resources: Resources;
  generation: number;
  status: { phase: Phase; observedGeneration: number; readyReplicas: number; conditions: Condition[] };
  endpoints: { http: string; mcp: string };
  createdAt: string;
  updatedAt: string;
  deletionRequestedAt: string | null;
  deletedAt: string | null;
}

export interface DeploymentEvent {
  time: string;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface DryRun {
  valid: boolean;
  errors: { field: string; message: string }[];
}

/** The body of POST /projects/{id}/deployments. */
export interface DeployRequest {
  displayName?: string;
  bundle?: { name: string; version: string };
  networkAccess?: string;
  runtime?: { engine?: string; logLevel?: string; requestTimeoutSeconds?: number | string };
  credentials: Record<string, string>;
  parameters?: Record<string, string>;
  resources?: {
    replicas?: number | string;
    cpu?: { request?: string; limit?: string };
    memory?: { request?: string; limit?: string };
  };
}
