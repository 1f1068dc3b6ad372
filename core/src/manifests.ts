import { createHmac } from "node:crypto";
import { canonicalJson } from "./flow.js";
import { DEFAULT_BODY_LIMIT_BYTES, type RuntimeSpec } from "./driver.js";
import { CREDENTIAL_NAMES_ENV, GATEWAY_SECRET_ENV, IO_MAX_CHARS_ENV, PARAMETER_NAMES_ENV, REVISION_ENV, SECRET_PARAMETER_NAMES_ENV, TWEAKS_POLICY_ENV, partitionParameters, recordIOEnv, secretParametersEnv, tweaksPolicyEnv } from "./replica-access.js";
import { REPLICA_PROCESS_ENV } from "./replica-process.js";
import { dnsEgressRules, type DnsPeer } from "./dns-egress.js";

/**
 * The Kubernetes resources one deployment maps to (DESIGN 5), as pure functions of its spec:
 * Namespace, ServiceAccount, Secret, Service, NetworkPolicy, Deployment. The driver applies
 * them with server-side apply; the API shows them (secret values redacted).
 *
 * As few objects as the contract needs, because each costs the API server and its controllers
 * far more than the write itself (docs/kubernetes-at-scale.md): the one Service is the running
 * revision's own (`runtime-r<runs>`), which the gateway's traffic split needs anyway. The pods
 * run as the namespace's `default` ServiceAccount (the namespace is the deployment's alone, and
 * no token is mounted), which is applied here, before the Deployment, rather than left to the
 * ServiceAccount controller: a pod created before that controller reaches a new namespace is
 * held in admission, which asks the API server for the account up to ten times, and refused
 * after that (the ReplicaSet controller then retries it, backing off).
 */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };

export interface ManifestOptions {
  /** The runtime container image (Node, flowplane-runtime and lfx). */
  image: string;
  /** Namespace of flowplane's own pods (control plane and gateway). */
  systemNamespace: string;
  /** Seconds a replica may take to drain after SIGTERM. */
  terminationGraceSeconds?: number;
  /**
   * Key of the Secret checksum. An HMAC, not a bare hash: whoever can read a Deployment must not
   * be able to test guesses of a credential against it.
   */
  checksumKey: Buffer;
  /**
   * Which flowplane installation owns the resources (label `flowplane.io/installation`). The
   * driver lists, watches and sweeps only its own, so two installations can share a cluster.
   */
  installation?: string;
  /**
   * Model hosts on private networks the operator allows (FLOWPLANE_MODEL_HOSTS: host names, IP
   * addresses, CIDR ranges). They reach the runtime, so lfx neither rewrites nor blocks calls to
   * them; addresses and ranges also open the NetworkPolicy's egress to them on any port (an
   * Ollama on 11434, say). A host name cannot be written in a NetworkPolicy: traffic to it still
   * needs one of the ports the policy opens, or its address listed too.
   */
  modelHosts?: readonly string[];
  /**
   * More ranges the open ports (443, 5432) must not reach, besides EGRESS_EXCLUDED_V4/V6
   * (FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE, CIDRs): the cluster's own pod, Service and node ranges
   * where they are not private addresses (GKE's Service range in 34.118.224.0/20, IPv6 clusters'
   * global pod ranges). Each a valid CIDR with a prefix of at least 1 (checked by the caller).
   */
  egressExclude?: readonly string[];
  /**
   * Where the pods may send DNS queries (FLOWPLANE_KUBERNETES_DNS, dns-egress.ts): the DNS pods
   * a label selects, and addresses. Unset or empty: CoreDNS in kube-system (DEFAULT_DNS_PEERS).
   */
  dns?: readonly DnsPeer[];
}

/** A model-host entry as a NetworkPolicy ipBlock CIDR, or null for a host name. */
function cidrOf(host: string): string | null {
  const [addr, bits] = host.split("/");
  if (addr && /^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) return `${addr}/${bits ?? "32"}`;
  if (addr && addr.includes(":")) return `${addr}/${bits ?? "128"}`;
  return null;
}

/**
 * Where the egress the policy opens by port (443 for model providers and other HTTPS APIs, 5432
 * for a flow's PostgreSQL) never goes: private networks (RFC 1918, RFC 4193), shared address
 * space (RFC 6598, which some clusters give their pods), link-local (the clouds' metadata
 * service at 169.254.169.254, and every other node-local endpoint) and loopback. The cluster's
 * own pods and Services live there, other teams' databases and internal APIs, and the control
 * plane's database: a flow, custom Python code included on lfx, must reach none of them just
 * because it speaks HTTPS or PostgreSQL. Hosts on those networks that flows may call are the
 * operator's to list (FLOWPLANE_MODEL_HOSTS): a listed address or range is opened on any port by
 * a rule of its own, as lfx's SSRF guard and the native SQL component let through only those.
 */
export const EGRESS_EXCLUDED_V4: readonly string[] = Object.freeze([
  "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16",
  // Benchmarking (RFC 2544) and the old class E (RFC 1112), which some clusters give their pods.
  "198.18.0.0/15", "240.0.0.0/4",
]);
/**
 * IPv6's private and link-local ranges, and NAT64's prefixes (RFC 6052, RFC 8215), through which
 * an IPv6 pod reaches an IPv4 host, a private one included. (IPv4-mapped addresses, ::ffff:0:0/96,
 * leave a Linux pod as IPv4 packets, which the IPv4 block holds; the API server refuses that
 * range inside ::/0 anyway, taking it for IPv4.)
 */
export const EGRESS_EXCLUDED_V6: readonly string[] = Object.freeze(["::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "fc00::/7", "fe80::/10"]);

/** Pod Security Admission's enforced level on a namespace (deploy/kubernetes/flowplane.yaml requires `restricted`). */
export const POD_SECURITY_LABEL = "pod-security.kubernetes.io/enforce";

export const RUNTIME_PORT = 8000;
export const MCP_SERVICE_PORT = 8001;
/** The runtime's probe listener (/health, /ready on a listener of their own, FLOWPLANE_PROBE_PORT); the kubelet's only. */
export const PROBE_PORT = 8002;
export const TOKEN_AUDIENCE = "flowplane";
export const TOKEN_DIR = "/var/run/secrets/flowplane";
export const MANAGED_BY = "flowplane";
/**
 * The namespace's own account (applied by flowplane before the Deployment, else made by the
 * ServiceAccount controller): a deployment's replicas are the only pods there, its identity is
 * the namespace (token-review.ts), and no token is mounted.
 */
const SA = "default";
/**
 * The replica's parameters and credentials live in an immutable Secret named after an HMAC of
 * its content (`parameters-<12 hex>`): a changed value is a new Secret and a new pod template,
 * so pods roll; the kubelet need not watch an immutable Secret; and the previous Secret stays
 * for the old pods until the driver prunes it (it keeps the current one and the one before).
 */
const SECRET_PREFIX = "parameters-";
/** Label on every parameters Secret, for the driver's pruning. */
export const PARAMETERS_SECRET_LABEL = "flowplane.io/parameters";
export function parametersSecretName(checksum: string): string {
  return `${SECRET_PREFIX}${checksum.slice(0, 12)}`;
}
const SERVICE = "runtime";

/** Recommended app.kubernetes.io labels, plus flowplane's own (ids are UUIDs: valid label values). */
/** The label naming the deployment's revision on its Kubernetes Deployment and pods. */
export const REVISION_LABEL = "flowplane.io/revision";

/**
 * The two labels that make an object, a namespace above all, this installation's: what the
 * driver lists and watches by, what the token review asks of a replica's namespace, and what
 * the install's admission policy holds the control plane's writes to.
 */
export function installationLabels(installation = "default"): Record<string, string> {
  return { "flowplane.io/installation": installation, "app.kubernetes.io/managed-by": MANAGED_BY };
}

export function labelsFor(spec: Pick<RuntimeSpec, "resourceName" | "deploymentId" | "projectId">, installation = "default"): Record<string, string> {
  return {
    ...installationLabels(installation),
    "app.kubernetes.io/name": "flowplane-runtime",
    "app.kubernetes.io/instance": spec.resourceName,
    "app.kubernetes.io/component": "runtime",
    "app.kubernetes.io/part-of": "flowplane",
    "flowplane.io/deployment-id": spec.deploymentId,
    "flowplane.io/project-id": spec.projectId,
  };
}

export function selectorFor(resourceName: string): Record<string, string> {
  return { "app.kubernetes.io/instance": resourceName, "app.kubernetes.io/component": "runtime" };
}

/** HMAC of the Secret's data: in the pod template, so an edited value rolls the pods. */
export function secretChecksum(env: Record<string, string>, key: Buffer): string {
  return createHmac("sha256", key).update(canonicalJson(env)).digest("hex");
}

export function renderManifests(spec: RuntimeSpec, o: ManifestOptions): K8sObject[] {
  const ns = spec.resourceName;
  const labels = labelsFor(spec, o.installation);
  const meta = (name: string) => ({ name, namespace: ns, labels });
  // On the Deployment and its pods only: it changes with every generation, the other objects do not.
  const revisionLabel: Record<string, string> = spec.revision === undefined ? {} : { [REVISION_LABEL]: String(spec.revision) };
  const annotations = {
    "flowplane.io/generation": String(spec.generation),
    "flowplane.io/bundle": `${spec.bundle.name}@${spec.bundle.version}`,
    "flowplane.io/bundle-digest": spec.bundle.digest,
  };
  // Reserved names never reach the pod (the API refuses them; this is the last line of defence).
  const { kept } = partitionParameters(spec.env);
  const r = spec.resources;
  // The runtime's own settings: all reserved names (FLOWPLANE_*, MALLOC_*), so none can be a
  // parameter's; redactManifests shows those listed in SHOWN_SETTINGS in the clear.
  const config: Record<string, string> = Object.fromEntries([
    ["FLOWPLANE_BUNDLE_URL", spec.bundleUrl],
    ["FLOWPLANE_BUNDLE_VERSION", spec.bundle.version],
    ["FLOWPLANE_BUNDLE_DIGEST", spec.bundle.digest],
    ["FLOWPLANE_IDENTITY_TOKEN_FILE", `${TOKEN_DIR}/token`],
    ["FLOWPLANE_RUNTIME_HOST", "0.0.0.0"],
    ["FLOWPLANE_RUNTIME_PORT", String(RUNTIME_PORT)],
    ["FLOWPLANE_PROBE_PORT", String(PROBE_PORT)],
    ["FLOWPLANE_ENGINE", spec.engine],
    ["FLOWPLANE_LOG_LEVEL", spec.logLevel],
    // Bound to every line the runtime logs (with FLOWPLANE_REPLICA, the pod's name, below).
    ["FLOWPLANE_DEPLOYMENT_ID", spec.deploymentId],
    // Named on every answer, so the gateway's revision header is exact during a rolling update.
    ...(spec.revision !== undefined ? [[REVISION_ENV, String(spec.revision)]] : []),
    ["FLOWPLANE_REQUEST_TIMEOUT_MS", String(spec.requestTimeoutSeconds * 1000)],
    ["FLOWPLANE_MAX_BODY_BYTES", String(spec.maxBodyBytes ?? DEFAULT_BODY_LIMIT_BYTES)],
    ["FLOWPLANE_SHUTDOWN_GRACE_MS", String(((o.terminationGraceSeconds ?? 45) - 5) * 1000)],
    // Endpoint removal takes a few seconds to reach every kube-proxy and gateway: keep serving meanwhile.
    ["FLOWPLANE_DRAIN_DELAY_MS", "5000"],
    // Which variables are the flow's: the pod's environment also holds Kubernetes' own (service links...).
    [PARAMETER_NAMES_ENV, JSON.stringify(Object.keys(kept).sort())],
    ...(o.modelHosts?.length ? [["FLOWPLANE_MODEL_HOSTS", o.modelHosts.join(",")]] : []),
    // Inputs and outputs kept (runtime.io): names of the credentials to redact, never a value.
    ...Object.entries(recordIOEnv(spec.recordIO)),
    // Plain parameters kept secret, guarded as credentials by the replica: names, never a value.
    ...Object.entries(secretParametersEnv(spec.secretParameters)),
    // Which fields run requests may tweak, when not every field but Langflow's protected ones.
    ...Object.entries(tweaksPolicyEnv(spec.tweaksPolicy)),
    // For the process, not the flow: glibc's malloc arenas capped (REPLICA_PROCESS_ENV says why).
    ...Object.entries(REPLICA_PROCESS_ENV),
  ]) as Record<string, string>;
  // The replica's whole environment but its pod's name is the Secret's (envFrom), its settings
  // included, not the pod template's `env`: the template is copied into the ReplicaSet and every
  // pod, and each of their status updates makes the API server decode, diff, store and send all
  // of it again, where the Secret is written once. At 500 deployments the settings in the
  // template cost the cluster about 8% more CPU (docs/kubernetes-at-scale.md, session 37).
  // Settings last: they win over a parameter of the same name, as `env` won over `envFrom`.
  const secretValues = { ...kept, ...config, [GATEWAY_SECRET_ENV]: spec.gatewaySecret };
  const data = Object.fromEntries(Object.entries(secretValues).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]));
  const checksum = secretChecksum(secretValues, o.checksumKey);
  const secretName = parametersSecretName(checksum);
  const env = [{ name: "FLOWPLANE_REPLICA", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }];
  const modelCidrs = (o.modelHosts ?? []).map(cidrOf).filter((c): c is string => c !== null);
  // Checked CIDRs (the server's config refuses anything else at start): IPv6 ones hold a colon.
  const extraV4 = (o.egressExclude ?? []).filter((c) => !c.includes(":"));
  const extraV6 = (o.egressExclude ?? []).filter((c) => c.includes(":"));

  return [
    // Pod Security `restricted` enforced by the cluster on every pod of the namespace (these pods
    // meet it): the install's admission policy requires the label on every namespace the control
    // plane writes, so not even a compromised control plane can run a privileged pod there.
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { ...labels, "kubernetes.io/metadata.name": ns, [POD_SECURITY_LABEL]: "restricted" }, annotations } },
    // The account the pods run as (see above); it holds no token either.
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(SA), automountServiceAccountToken: false },
    { apiVersion: "v1", kind: "Secret", metadata: { ...meta(secretName), labels: { ...labels, [PARAMETERS_SECRET_LABEL]: "true" } }, type: "Opaque", immutable: true, data },
    renderRevisionService(spec, o),
    {
      apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: meta("runtime"),
      spec: {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": o.systemNamespace } } }], ports: [{ protocol: "TCP", port: RUNTIME_PORT }] }],
        egress: [
          // DNS to the cluster's resolver only (not port 53 anywhere): dns-egress.ts says why.
          ...dnsEgressRules(o.dns),
          { to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": o.systemNamespace } }, podSelector: { matchLabels: { "app.kubernetes.io/part-of": "flowplane", "app.kubernetes.io/component": "control-plane" } } }] },
          {
            to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [...EGRESS_EXCLUDED_V4, ...extraV4] } }, { ipBlock: { cidr: "::/0", except: [...EGRESS_EXCLUDED_V6, ...extraV6] } }],
            ports: [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 5432 }],
          },
          ...(modelCidrs.length ? [{ to: modelCidrs.map((cidr) => ({ ipBlock: { cidr } })) }] : []),
        ],
      },
    },
    {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { ...meta("runtime"), labels: { ...labels, ...revisionLabel }, annotations },
      spec: {
        replicas: r.replicas,
        revisionHistoryLimit: 3,
        selector: { matchLabels: selectorFor(ns) },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          // The pods' own annotations: the generation (the driver tells old pods from new by it)
          // and the bundle, for whoever looks. Not the digest nor the Secret's checksum: the
          // settings carry the one, the Secret's name the other, and each byte here is paid for
          // by every copy of the template (above).
          metadata: { labels: { ...labels, ...revisionLabel }, annotations: { "flowplane.io/generation": annotations["flowplane.io/generation"], "flowplane.io/bundle": annotations["flowplane.io/bundle"] } },
          spec: {
            serviceAccountName: SA,
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: o.terminationGraceSeconds ?? 45,
            securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
            containers: [{
              name: "runtime",
              image: o.image,
              imagePullPolicy: "IfNotPresent",
              ports: [{ name: "http", containerPort: RUNTIME_PORT, protocol: "TCP" }, { name: "probe", containerPort: PROBE_PORT, protocol: "TCP" }],
              env,
              envFrom: [{ secretRef: { name: secretName } }],
              // On the probe listener, which no run queues behind; a timeout longer than the period and
              // three failures in a row, so one slow answer under load does not take a serving pod out.
              // A main thread stuck in one synchronous step answers neither probe: out of the Service
              // after about 6 s, restarted only after about a minute (6 × 10 s), not for a long step.
              readinessProbe: { httpGet: { path: "/ready", port: "probe" }, periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: "/health", port: "probe" }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
              resources: { requests: { cpu: r.cpu.request, memory: r.memory.request }, limits: { cpu: r.cpu.limit, memory: r.memory.limit } },
              // The last log lines become the termination message: the failure reason (e.g. digest mismatch) reaches the status.
              terminationMessagePolicy: "FallbackToLogsOnError",
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
              volumeMounts: [{ name: "identity", mountPath: TOKEN_DIR, readOnly: true }, { name: "tmp", mountPath: "/tmp" }],
            }],
            volumes: [
              { name: "identity", projected: { sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: 3600, path: "token" } }] } },
              { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
            ],
          },
        },
      },
    },
  ];
}

/**
 * The settings renderManifests writes whose values the manifests shown to users keep (base64, as
 * applied): none is a secret, and their names are reserved (reserved-names.ts), so no parameter
 * can carry one of them. Listed, not derived: a setting added later is redacted until it is
 * added here (manifests.test.ts holds every setting to this list or to the gateway secret).
 */
export const SHOWN_SETTINGS: ReadonlySet<string> = new Set([
  "FLOWPLANE_BUNDLE_URL", "FLOWPLANE_BUNDLE_VERSION", "FLOWPLANE_BUNDLE_DIGEST", "FLOWPLANE_IDENTITY_TOKEN_FILE",
  "FLOWPLANE_RUNTIME_HOST", "FLOWPLANE_RUNTIME_PORT", "FLOWPLANE_PROBE_PORT", "FLOWPLANE_ENGINE", "FLOWPLANE_LOG_LEVEL",
  "FLOWPLANE_DEPLOYMENT_ID", REVISION_ENV, "FLOWPLANE_REQUEST_TIMEOUT_MS", "FLOWPLANE_MAX_BODY_BYTES",
  "FLOWPLANE_SHUTDOWN_GRACE_MS", "FLOWPLANE_DRAIN_DELAY_MS", PARAMETER_NAMES_ENV, "FLOWPLANE_MODEL_HOSTS",
  IO_MAX_CHARS_ENV, CREDENTIAL_NAMES_ENV, SECRET_PARAMETER_NAMES_ENV, TWEAKS_POLICY_ENV, ...Object.keys(REPLICA_PROCESS_ENV),
]);

/**
 * The same resources for showing to users: in the Secret, every value replaced but the
 * settings in SHOWN_SETTINGS (parameters, credentials, the gateway's secret, anything else).
 */
export function redactManifests(objects: K8sObject[]): K8sObject[] {
  return objects.map((o) => (o.kind === "Secret" && typeof o.data === "object" && o.data !== null
    ? { ...o, data: Object.fromEntries(Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, SHOWN_SETTINGS.has(k) ? v : "<redacted>"])) }
    : o));
}

/** The name of a revision's own Service and (for a revision other than the current one) Deployment: `runtime-r<runs>`. */
export function revisionObjectName(runs: number): string {
  return `${SERVICE}-r${runs}`;
}

/**
 * A live revision's Service (docs/revisions.md): the pods started for it (`flowplane.io/revision`),
 * whichever Deployment runs them, so the gateway can send a call to one revision. There is one
 * for every live revision, the current one's among renderManifests' objects; there is no
 * Service of all the deployment's pods (the gateway falls back to another revision's Service).
 */
export function renderRevisionService(spec: Pick<RuntimeSpec, "resourceName" | "deploymentId" | "projectId" | "revision">, o: Pick<ManifestOptions, "installation">): K8sObject {
  const ns = spec.resourceName;
  const revisionLabel: Record<string, string> = spec.revision === undefined ? {} : { [REVISION_LABEL]: String(spec.revision) };
  return {
    // `runtime`, of all the pods, for a spec that names no revision.
    apiVersion: "v1", kind: "Service",
    metadata: { name: spec.revision === undefined ? SERVICE : revisionObjectName(spec.revision), namespace: ns, labels: { ...labelsFor(spec, o.installation), ...revisionLabel } },
    spec: {
      type: "ClusterIP",
      selector: { ...selectorFor(ns), ...revisionLabel },
      ports: [
        { name: "http", port: RUNTIME_PORT, targetPort: "http", protocol: "TCP" },
        // MCP is served by the same process at /mcp; its own Service port keeps routing rules apart.
        { name: "mcp", port: MCP_SERVICE_PORT, targetPort: "http", protocol: "TCP" },
      ],
    },
  };
}

/**
 * What another live revision (a canary's stable one, the warm one) runs on Kubernetes: its own
 * parameters Secret (immutable, named by content: its own, since its settings name its revision) and its own
 * Deployment `runtime-r<runs>`, whose selector carries the revision so it never takes the
 * current Deployment's pods (nor they its).
 */
export function renderRevisionDeployment(spec: RuntimeSpec, o: ManifestOptions): K8sObject[] {
  const all = renderManifests(spec, o);
  const secret = all.find((x) => x.kind === "Secret")!;
  const dep = all.find((x) => x.kind === "Deployment")!;
  const d = dep.spec as { selector: { matchLabels: Record<string, string> } };
  const runs = String(spec.revision ?? 0);
  return [secret, {
    ...dep, metadata: { ...dep.metadata, name: revisionObjectName(spec.revision ?? 0) },
    spec: { ...d, selector: { matchLabels: { ...d.selector.matchLabels, [REVISION_LABEL]: runs } } },
  }];
}
