/**
 * The shapes the control-plane API answers (DESIGN 8), as far as the UI reads them. Declared
 * here rather than imported: the UI depends on the HTTP contract only, like any other client.
 */
export type Role = "owner" | "editor" | "viewer";

export interface Me {
  id: string;
  name: string;
  kind: "human" | "machine";
  orgOwner: boolean;
  roles: Record<string, Role>;
}

export interface Project {
  id: string;
  name: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

export interface Parameter {
  name: string;
  kind: "credential" | "plain" | "model";
  default?: string;
  usedBy: { flowId: string; nodeId: string; field: string }[];
}

export interface FlowSummary {
  id: string;
  name: string;
  description: string;
  endpointName: string | null;
  components: string[];
}

export interface Compatibility {
  native: { supported: boolean; missing: { flowName: string; nodeId: string; type: string; reason: string }[] };
  /** `missing` is absent from versions published before the lfx check existed. */
  lfx: { supported: boolean; missing?: { flowName: string; nodeId: string; type: string; reason: string; detail: string }[] };
  recommendedEngine: "native" | "lfx";
}

export interface BundleVersion {
  name: string;
  versionTag: string;
  description: string;
  accessLevel: "project" | "global";
  allowedProjects: string[];
  digest: string;
  parameters: Parameter[];
  flows: FlowSummary[];
  compatibility: Compatibility;
  /** Publish warnings, each naming flow, node and field. */
  warnings?: PublishWarning[];
  createdAt: string;
}

export interface PublishWarning {
  code: "no_model_selected" | "secret_unbound" | "unknown_provider";
  flowId: string;
  flowName: string;
  nodeId: string;
  field: string;
  message: string;
}

export interface BundleSummary {
  name: string;
  latest: BundleVersion;
  versionCount: number;
}

export type Phase = "Provisioning" | "Starting" | "Ready" | "Updating" | "Degraded" | "Failed" | "Deleting";

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface Resources {
  replicas: number;
  cpu: { request: string; limit: string };
  memory: { request: string; limit: string };
}

export interface RuntimeConfig {
  engine: "auto" | "native" | "lfx";
  logLevel: "debug" | "info" | "warn" | "error";
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

export interface FieldError {
  field: string;
  message: string;
}

export interface DryRun {
  valid: boolean;
  errors: FieldError[];
}
