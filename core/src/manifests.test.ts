import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { BlockList } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import AjvModule from "ajv";
import { DEFAULT_RESOURCES } from "./deployment.js";
import type { RuntimeSpec } from "./driver.js";
import { SHOWN_SETTINGS, redactManifests, renderManifests, type K8sObject } from "./manifests.js";

const spec = (over: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
  deploymentId: "0b3f5c1e-8a2d-4c1b-9e7f-1a2b3c4d5e6f", projectId: "9f8e7d6c-5b4a-4321-8765-abcdefabcdef",
  resourceName: "support-chat-x1y2z3", generation: 3,
  bundle: { name: "chat", version: "2025-01 release", digest: `sha256:${"a".repeat(64)}` },
  bundleUrl: "http://flowplane.flowplane.svc.cluster.local:8080/internal/v1/deployments/x/bundle", identityToken: "", gatewaySecret: "gw-secret-value",
  engine: "auto", logLevel: "info", requestTimeoutSeconds: 60, networkAccess: "public",
  resources: { ...DEFAULT_RESOURCES, replicas: 2 }, env: { OPENAI_API_KEY: "sk-secret", "OPENRAG-QUERY-FILTER": "{}" }, ...over,
});
const options = { image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane", checksumKey: Buffer.alloc(32, 7) };
// ajv is CommonJS: under NodeNext its default export is the module object.
const Ajv = AjvModule.default;
const byKind = (objs: K8sObject[]) => Object.fromEntries(objs.map((o) => [o.kind, o])) as Record<string, K8sObject & { spec: any; data?: Record<string, string> }>; // eslint-disable-line @typescript-eslint/no-explicit-any

const objs = renderManifests(spec(), options);
const k = byKind(objs);
/**
 * The environment the replica's container starts with, as the kubelet builds it: the Secret its
 * `envFrom` names, then its own `env` (which wins), values only (a `valueFrom` is the pod's name).
 */
const replicaEnv = (o: Record<string, K8sObject & { spec: any; data?: Record<string, string> }>): Map<string, string> => { // eslint-disable-line @typescript-eslint/no-explicit-any
  const c = o.Deployment!.spec.template.spec.containers[0];
  assert.deepEqual(c.envFrom, [{ secretRef: { name: o.Secret!.metadata.name } }]);
  const env = new Map(Object.entries(o.Secret!.data ?? {}).map(([n, v]) => [n, Buffer.from(v, "base64").toString("utf8")]));
  for (const e of c.env as { name: string; value?: string }[]) env.set(e.name, e.value ?? "<from the pod>");
  return env;
};
const envOf = (s: RuntimeSpec, o = options) => replicaEnv(byKind(renderManifests(s, o)));

describe("Kubernetes manifests", () => {
  it("renders the six resources in the deployment's own namespace, names within 63 characters", () => {
    // The namespace's default ServiceAccount (the pods run as it), applied before any pod can ask for it, and one Service.
    assert.deepEqual(objs.map((o) => o.kind), ["Namespace", "ServiceAccount", "Secret", "Service", "NetworkPolicy", "Deployment"]);
    assert.equal(k.ServiceAccount!.metadata.name, "default");
    assert.equal(k.ServiceAccount!.metadata.name, k.Deployment!.spec.template.spec.serviceAccountName);
    assert.equal(k.ServiceAccount!.automountServiceAccountToken, false);
    // The cluster enforces Pod Security `restricted` on the namespace (the install's admission policy requires it).
    assert.equal(k.Namespace!.metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
    for (const o of objs) {
      assert.ok(o.metadata.name.length <= 63);
      if (o.kind !== "Namespace") assert.equal(o.metadata.namespace, "support-chat-x1y2z3");
      assert.equal(o.metadata.labels?.["app.kubernetes.io/managed-by"], "flowplane");
      assert.equal(o.metadata.labels?.["app.kubernetes.io/instance"], "support-chat-x1y2z3");
      for (const v of Object.values(o.metadata.labels ?? {})) assert.match(v, /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, "a valid label value");
    }
  });

  it("labels the Deployment, its pods and its revision's Service with the revision, and nothing else (it changes with every generation)", () => {
    const r = byKind(renderManifests(spec({ revision: 7 }), options));
    assert.equal(r.Deployment!.metadata.labels?.["flowplane.io/revision"], "7");
    assert.equal(r.Deployment!.spec.template.metadata.labels["flowplane.io/revision"], "7");
    assert.ok(!("flowplane.io/revision" in r.Deployment!.spec.selector.matchLabels), "the selector never changes");
    for (const o of Object.values(r)) if (o.kind !== "Deployment" && o.kind !== "Service") assert.equal(o.metadata.labels?.["flowplane.io/revision"], undefined, o.kind);
    // The one Service is the revision's own: named after it, selecting only its pods.
    assert.equal(r.Service!.metadata.name, "runtime-r7");
    assert.equal(r.Service!.spec.selector["flowplane.io/revision"], "7");
    assert.equal(r.Service!.metadata.labels?.["flowplane.io/revision"], "7");
    assert.equal(k.Service!.metadata.name, "runtime", "no revision known: the Service of all the pods");
    assert.equal(k.Service!.spec.selector["flowplane.io/revision"], undefined);
    assert.equal(k.Deployment!.spec.template.metadata.labels["flowplane.io/revision"], undefined, "no revision known: no label");
    assert.equal(replicaEnv(r).get("FLOWPLANE_REVISION"), "7", "the runtime names it on every answer");
    assert.equal(replicaEnv(k).has("FLOWPLANE_REVISION"), false);
  });

  it("rolls safely: maxUnavailable 0 / maxSurge 1, readiness /ready, liveness /health, requests and limits", () => {
    const d = k.Deployment!.spec;
    assert.equal(d.replicas, 2);
    assert.deepEqual(d.strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const c = d.template.spec.containers[0];
    assert.equal(c.readinessProbe.httpGet.path, "/ready");
    assert.equal(c.livenessProbe.httpGet.path, "/health");
    // A stuck main thread answers no probe: restarted only after about a minute of it.
    assert.ok(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold >= 60, JSON.stringify(c.livenessProbe));
    assert.deepEqual(c.resources, { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "1000m", memory: "1Gi" } });
    assert.deepEqual(c.envFrom, [{ secretRef: { name: k.Secret!.metadata.name } }]);
    assert.ok(d.template.spec.terminationGracePeriodSeconds > 0);
  });

  it("locks the pod down: non-root, read-only root filesystem, no capabilities, no API token", () => {
    const pod = k.Deployment!.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, "default", "the namespace's own account: it holds nothing but this deployment");
    const sc = pod.containers[0].securityContext;
    assert.deepEqual([sc.readOnlyRootFilesystem, sc.allowPrivilegeEscalation, sc.capabilities.drop], [true, false, ["ALL"]]);
    const token = pod.volumes.find((v: { name: string }) => v.name === "identity").projected.sources[0].serviceAccountToken;
    assert.equal(token.audience, "flowplane");
    assert.ok(replicaEnv(k).get("FLOWPLANE_IDENTITY_TOKEN_FILE")?.endsWith("/token"));
  });

  it("limits traffic: ingress only from flowplane's namespace, egress to DNS, the control plane, and 443 and 5432 on public addresses only", () => {
    const np = k.NetworkPolicy!.spec;
    assert.deepEqual(np.policyTypes, ["Ingress", "Egress"]);
    assert.equal(np.ingress[0].from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"], "flowplane");
    const ports = np.egress.flatMap((e: { ports?: { protocol: string; port: number }[] }) => (e.ports ?? []).map((p) => `${p.protocol}/${p.port}`)).sort();
    // DNS on 53 and the DNS pods' own ports behind it (dns-egress.ts), to those pods only.
    assert.deepEqual(ports, ["TCP/1053", "TCP/443", "TCP/53", "TCP/5353", "TCP/5432", "UDP/1053", "UDP/53", "UDP/5353"]);
    assert.ok(np.egress.some((e: { to?: { podSelector?: unknown }[] }) => e.to?.some((t) => t.podSelector)), "the control plane's pods");
    const allows = egressAllows(np);
    // The open ports reach the internet, over IPv4 and IPv6...
    for (const [ip, port] of [["8.8.8.8", 443], ["52.1.2.3", 5432], ["2001:4860:4860::8888", 443], ["172.32.0.1", 443], ["100.128.0.1", 443]] as const) assert.ok(allows(ip, port, "TCP"), `${ip}:${port}`);
    // ...and nothing on a private, shared, link-local or loopback address: the cluster's pods and
    // Services, other teams' databases, the control plane's, the cloud's metadata service.
    // NAT64's addresses (64:ff9b::a00:7 is 10.0.0.7) carry a private IPv4 address too;
    // class E and the benchmarking range are some clusters' pod ranges.
    for (const ip of ["10.96.0.1", "10.0.0.7", "172.16.0.1", "172.31.255.254", "192.168.1.10", "100.64.0.1", "169.254.169.254", "127.0.0.1", "0.0.0.0", "192.0.0.170", "198.18.0.1", "240.0.0.10", "fd00::1", "fe80::1", "::1", "64:ff9b::a00:7", "64:ff9b:1::a00:7"]) {
      for (const port of [443, 5432]) assert.ok(!allows(ip, port, "TCP"), `${ip}:${port} must be closed`);
    }
    // Other ports stay closed everywhere; DNS goes to the cluster's DNS pods only (selected by
    // label, after the kube-dns Service's DNAT), never to port 53 at an address.
    assert.ok(!allows("8.8.8.8", 22, "TCP") && !allows("8.8.8.8", 80, "TCP") && !allows("10.0.0.7", 8080, "TCP"));
    for (const ip of ["10.96.0.10", "10.0.0.7", "169.254.169.254", "8.8.8.8", "fd00::1"]) assert.ok(!allows(ip, 53, "UDP") && !allows(ip, 53, "TCP"), `${ip}:53 must be closed`);
    assert.equal(replicaEnv(k).has("FLOWPLANE_MODEL_HOSTS"), false);
  });

  it("keeps the operator's extra ranges out of the open ports' reach (FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE: a cluster's public Service range, an IPv6 pod range)", () => {
    const m = byKind(renderManifests(spec(), { ...options, egressExclude: ["34.118.224.0/20", "2600:1F14::/40"] }));
    const allows = egressAllows(m.NetworkPolicy!.spec);
    for (const ip of ["34.118.224.10", "34.118.239.254", "2600:1f14::5"]) assert.ok(!allows(ip, 443, "TCP"), `${ip}:443 must be closed`);
    for (const ip of ["34.118.240.1", "2600:1f15::5", "8.8.8.8"]) assert.ok(allows(ip, 443, "TCP"), `${ip}:443`);
  });

  it("lets replicas reach the operator's model hosts: listed to lfx, addresses and ranges opened in the NetworkPolicy", () => {
    const m = byKind(renderManifests(spec(), { ...options, modelHosts: ["10.0.0.0/8", "192.168.1.20", "fd00:1::/64", "ollama.internal"] }));
    assert.equal(replicaEnv(m).get("FLOWPLANE_MODEL_HOSTS"), "10.0.0.0/8,192.168.1.20,fd00:1::/64,ollama.internal");
    const allows = egressAllows(m.NetworkPolicy!.spec);
    // Listed: open on any port (an Ollama on 11434), though private.
    for (const [ip, port] of [["10.1.2.3", 11434], ["10.1.2.3", 443], ["192.168.1.20", 8080], ["fd00:1::5", 443]] as const) assert.ok(allows(ip, port, "TCP"), `${ip}:${port}`);
    // Not listed: still closed. A host name has no place in a NetworkPolicy.
    for (const ip of ["192.168.1.21", "172.16.0.1", "169.254.169.254", "fd00:2::5"]) assert.ok(!allows(ip, 443, "TCP"), `${ip}:443 must stay closed`);
  });

  it("rolls the pods when a secret value changes (keyed checksum), and redacts values for display", () => {
    // The template names the Secret, whose name follows its content (keyed): a new value is a new template.
    const sum = (env: Record<string, string>) => JSON.stringify(byKind(renderManifests(spec({ env }), options)).Deployment!.spec.template);
    assert.notEqual(sum({ OPENAI_API_KEY: "a" }), sum({ OPENAI_API_KEY: "b" }));
    assert.equal(sum({ OPENAI_API_KEY: "a" }), sum({ OPENAI_API_KEY: "a" }));
    assert.equal(Buffer.from(k.Secret!.data!.OPENAI_API_KEY!, "base64").toString(), "sk-secret");
    const shown = byKind(redactManifests(objs));
    assert.ok(!JSON.stringify(shown).includes(Buffer.from("sk-secret").toString("base64")));
    // Every parameter's value and the gateway's secret hidden; the runtime's own settings shown as applied.
    assert.equal(shown.Secret!.data!.OPENAI_API_KEY, "<redacted>");
    assert.equal(shown.Secret!.data!["OPENRAG-QUERY-FILTER"], "<redacted>");
    assert.equal(shown.Secret!.data!.FLOWPLANE_GATEWAY_SECRET, "<redacted>");
    assert.equal(replicaEnv(shown).get("FLOWPLANE_LOG_LEVEL"), "info");
    assert.equal(replicaEnv(shown).get("MALLOC_ARENA_MAX"), "2");
    assert.equal(k.Secret!.data!.OPENAI_API_KEY, Buffer.from("sk-secret").toString("base64"), "the rendered objects themselves are untouched");
  });

  it("shows a setting only when it is listed as one to show: each setting rendered is listed or is the gateway secret, anything else is hidden", () => {
    // Every optional setting on: a setting added to renderManifests must be put on one side or the other.
    const full = byKind(renderManifests(spec({ revision: 4, recordIO: { maxChars: 100, credentialNames: ["OPENAI_API_KEY"] }, secretParameters: ["OPENRAG-QUERY-FILTER"], tweaksPolicy: "off" }), { ...options, modelHosts: ["10.0.0.0/8"] }));
    const settings = Object.keys(full.Secret!.data!).filter((n) => !(n in spec().env));
    assert.deepEqual(settings.filter((n) => !SHOWN_SETTINGS.has(n)), ["FLOWPLANE_GATEWAY_SECRET"]);
    assert.deepEqual([...SHOWN_SETTINGS].filter((n) => !settings.includes(n)), [], "no name listed that is never rendered");
    // A reserved name not on the list (a setting added later, or a value that skipped the parameters' check) is hidden.
    const odd = redactManifests([{ ...full.Secret!, data: { ...full.Secret!.data!, FLOWPLANE_NEW_TOKEN: "c2VjcmV0", flowplane_gateway_secret: "c2VjcmV0" } }])[0]!.data as Record<string, string>;
    assert.deepEqual([odd.FLOWPLANE_NEW_TOKEN, odd.flowplane_gateway_secret, odd.FLOWPLANE_LOG_LEVEL], ["<redacted>", "<redacted>", full.Secret!.data!.FLOWPLANE_LOG_LEVEL]);
  });

  it("keeps the pod template small: the replica's settings are the Secret's, the template names only the pod", () => {
    // Every byte of the template is copied into the ReplicaSet and each pod, and walked again at
    // each of their status updates; the Secret is written once.
    assert.deepEqual(k.Deployment!.spec.template.spec.containers[0].env, [{ name: "FLOWPLANE_REPLICA", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }]);
    const env = replicaEnv(k);
    assert.equal(env.get("FLOWPLANE_LOG_LEVEL"), "info");
    assert.equal(env.get("FLOWPLANE_DEPLOYMENT_ID"), spec().deploymentId);
    assert.equal(env.get("FLOWPLANE_REQUEST_TIMEOUT_MS"), "60000");
    // A changed setting is a new Secret, so a new template: the pods roll, as for a parameter.
    assert.notEqual(byKind(renderManifests(spec({ logLevel: "debug" }), options)).Secret!.metadata.name, k.Secret!.metadata.name);
    // The pods' annotations: what the driver reads (the generation) and the bundle, nothing derived from the Secret.
    assert.deepEqual(k.Deployment!.spec.template.metadata.annotations, { "flowplane.io/generation": "3", "flowplane.io/bundle": "chat@2025-01 release" });
    assert.equal(k.Deployment!.metadata.annotations!["flowplane.io/bundle-digest"], spec().bundle.digest, "the Deployment itself keeps the digest");
  });

  it("names the plain parameters kept secret in the pod's environment (names only), and leaves the template alone when none is", () => {
    const m = byKind(renderManifests(spec({ env: { OPENAI_API_KEY: "sk-secret", DATABASE_URL: "postgresql://u:held-3@db/x" }, secretParameters: ["DATABASE_URL"] }), options));
    assert.equal(replicaEnv(m).get("FLOWPLANE_SECRET_PARAMETER_NAMES"), '["DATABASE_URL"]');
    assert.ok(!JSON.stringify(redactManifests(Object.values(m))).includes(Buffer.from("held-3").toString("base64").slice(0, 8)), "shown: the names, never the value");
    assert.deepEqual(envOf(spec()), envOf(spec({ secretParameters: [] })));
    assert.equal(envOf(spec()).has("FLOWPLANE_SECRET_PARAMETER_NAMES"), false);
  });

  it("gives the pod the deployment's tweaks policy when it is not permissive, and leaves the template alone when it is", () => {
    assert.equal(envOf(spec({ tweaksPolicy: "off" })).get("FLOWPLANE_TWEAKS_POLICY"), "off");
    assert.equal(envOf(spec({ tweaksPolicy: "declared" })).get("FLOWPLANE_TWEAKS_POLICY"), "declared");
    // A deployment that keeps the default gets the same Secret, so the same template: no restart for it.
    assert.deepEqual(envOf(spec({ tweaksPolicy: "permissive" })), envOf(spec()));
    assert.equal(byKind(renderManifests(spec({ tweaksPolicy: "permissive" }), options)).Secret!.metadata.name, k.Secret!.metadata.name);
  });

  it("names the immutable parameters Secret after its content, and the pods read that one", () => {
    const render = (env: Record<string, string>) => byKind(renderManifests(spec({ env }), options));
    const a = render({ OPENAI_API_KEY: "a" });
    const b = render({ OPENAI_API_KEY: "b" });
    assert.equal(a.Secret!.immutable, true);
    assert.equal(a.Secret!.metadata.labels!["flowplane.io/parameters"], "true");
    assert.match(a.Secret!.metadata.name, /^parameters-[0-9a-f]{12}$/);
    assert.notEqual(a.Secret!.metadata.name, b.Secret!.metadata.name, "a new value is a new Secret");
    assert.equal(render({ OPENAI_API_KEY: "a" }).Secret!.metadata.name, a.Secret!.metadata.name, "the same content, the same name");
    assert.deepEqual(a.Deployment!.spec.template.spec.containers[0].envFrom, [{ secretRef: { name: a.Secret!.metadata.name } }]);
    // The name is keyed: it says nothing about the value to whoever can list Secrets.
    const otherKey = byKind(renderManifests(spec({ env: { OPENAI_API_KEY: "a" } }), { ...options, checksumKey: Buffer.alloc(32, 8) }));
    assert.notEqual(otherKey.Secret!.metadata.name, a.Secret!.metadata.name);
  });

  it("keeps reserved names out of the Secret and the pod, and mounts no API token but the bundle's projected one", () => {
    const hostile = { NODE_OPTIONS: "--import=data:text/javascript,process.exit(9)", LD_PRELOAD: "/tmp/x.so", FLOWPLANE_BUNDLE_URL: "http://evil", PATH: "/evil", PYTHONSTARTUP: "/tmp/x.py", OPENAI_API_KEY: "sk-secret" };
    const m = byKind(renderManifests(spec({ env: hostile, gatewaySecret: "gw-secret-value" }), options));
    // The only parameter kept is the one with a name of its own; every other name in the Secret is the runtime's.
    assert.deepEqual(Object.keys(m.Secret!.data!).filter((n) => !/^(FLOWPLANE_|MALLOC_)/.test(n)), ["OPENAI_API_KEY"]);
    assert.equal(Buffer.from(m.Secret!.data!.FLOWPLANE_GATEWAY_SECRET!, "base64").toString(), "gw-secret-value");
    const pod = m.Deployment!.spec.template.spec;
    const c = pod.containers[0];
    const env = replicaEnv(m);
    for (const name of ["NODE_OPTIONS", "LD_PRELOAD", "PATH", "PYTHONSTARTUP"]) assert.equal(env.has(name), false, name);
    // The process's own setting, which no parameter can change (MALLOC_ is reserved).
    assert.equal(env.get("MALLOC_ARENA_MAX"), "2");
    assert.equal(envOf(spec({ env: { MALLOC_ARENA_MAX: "64" } })).get("MALLOC_ARENA_MAX"), "2");
    assert.equal(env.get("FLOWPLANE_BUNDLE_URL"), spec().bundleUrl, "the runtime's own setting, not the parameter");
    assert.deepEqual(JSON.parse(env.get("FLOWPLANE_PARAMETER_NAMES")!), ["OPENAI_API_KEY"]);
    assert.ok(!JSON.stringify(m).includes("evil") && !JSON.stringify(m).includes("process.exit"), "no reserved value anywhere");
    // No automounted Kubernetes API token on the pod; the only token is the bundle download's (audience flowplane).
    assert.equal(pod.automountServiceAccountToken, false);
    const tokens = pod.volumes.flatMap((v: { projected?: { sources: { serviceAccountToken?: { audience: string } }[] } }) => (v.projected?.sources ?? []).filter((x) => x.serviceAccountToken));
    assert.deepEqual(tokens.map((t: { serviceAccountToken: { audience: string } }) => t.serviceAccountToken.audience), ["flowplane"]);
    assert.ok(!c.volumeMounts.some((v: { mountPath: string }) => v.mountPath.startsWith("/var/run/secrets/kubernetes.io")));
  });

  it("rolls the pods when the gateway secret changes (it is part of the Secret's checksum)", () => {
    const sum = (gatewaySecret: string) => JSON.stringify(byKind(renderManifests(spec({ gatewaySecret }), options)).Deployment!.spec.template);
    assert.notEqual(sum("one-gateway-secret"), sum("two-gateway-secret"));
  });
});

/**
 * The official OpenAPI v3 schemas of the Kubernetes version the tests run against, from the
 * k8s.io/kubernetes module that scripts/k8s/install-binaries.sh downloads. Unknown fields are
 * refused (additionalProperties: false where a schema lists properties), as a strict
 * server-side apply would.
 */
function kubernetesSchemas(): string | null {
  try {
    const dir = join(execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim(), `k8s.io/kubernetes@${process.env.FLOWPLANE_K8S_VERSION ?? "v1.30.14"}/api/openapi-spec/v3`);
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}
const schemaDir = kubernetesSchemas();
const skip = schemaDir ? false : process.env.CI ? false : "the Kubernetes OpenAPI schemas are not downloaded (run scripts/k8s/install-binaries.sh)";

describe("Kubernetes manifests against the official schemas", { skip }, () => {
  it("validates every resource", () => {
    assert.ok(schemaDir, "CI must have the Kubernetes schemas: .ci/run runs scripts/k8s/install-binaries.sh");
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const files = { v1: "api__v1_openapi.json", "apps/v1": "apis__apps__v1_openapi.json", "networking.k8s.io/v1": "apis__networking.k8s.io__v1_openapi.json" };
    const strict = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(strict);
      if (node && typeof node === "object") {
        const o = Object.fromEntries(Object.entries(node).map(([key, v]) => [key, strict(v)])) as Record<string, unknown>;
        if (o.properties && o.additionalProperties === undefined) o.additionalProperties = false;
        return o;
      }
      return node;
    };
    for (const [group, file] of Object.entries(files)) {
      const doc = JSON.parse(readFileSync(join(schemaDir!, file), "utf8")) as { components: { schemas: Record<string, unknown> } };
      ajv.addSchema({ $id: group, components: strict(doc.components) });
    }
    const ids: Record<string, string> = {
      Namespace: "v1#/components/schemas/io.k8s.api.core.v1.Namespace",
      ServiceAccount: "v1#/components/schemas/io.k8s.api.core.v1.ServiceAccount",
      Secret: "v1#/components/schemas/io.k8s.api.core.v1.Secret", Service: "v1#/components/schemas/io.k8s.api.core.v1.Service",
      NetworkPolicy: "networking.k8s.io/v1#/components/schemas/io.k8s.api.networking.v1.NetworkPolicy",
      Deployment: "apps/v1#/components/schemas/io.k8s.api.apps.v1.Deployment",
    };
    // With the operator's model hosts and DNS (a selector with a prefixed key, an address of each family) too: the NetworkPolicy then carries ipBlock rules.
    const dns = [{ kind: "pods", namespace: "openshift-dns", labelKey: "dns.operator.openshift.io/daemonset-dns", labelValue: "default" }, { kind: "addresses", cidr: "169.254.20.10/32" }, { kind: "addresses", cidr: "fd00::a/128" }] as const;
    for (const o of [...objs, ...renderManifests(spec({ revision: 3 }), { ...options, modelHosts: ["10.0.0.0/8", "fd00::1", "ollama.internal"], dns })]) {
      const validate = ajv.getSchema(ids[o.kind]!);
      assert.ok(validate, o.kind);
      assert.ok(validate(o), `${o.kind}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    }
    // and the check bites: a misspelt field is refused
    const bad = { ...k.Deployment!, spec: { ...k.Deployment!.spec, replica: 2 } };
    assert.equal(ajv.getSchema(ids.Deployment!)!(bad), false);
  });
});

type Peer = { ipBlock?: { cidr: string; except?: string[] }; podSelector?: unknown; namespaceSelector?: unknown };
type EgressRule = { to?: Peer[]; ports?: { protocol: string; port: number }[] };

/**
 * A NetworkPolicy's egress as the API documents it, for traffic to an address outside the
 * cluster's pods: rules are OR'ed; a rule without `to` allows every address, one without `ports`
 * every port; an ipBlock allows its `cidr` minus its `except`, for addresses of its family. Pod and namespace selectors never
 * match an address here (they name pods). CIDRs are matched by node's own BlockList.
 */
function egressAllows(spec: { egress: EgressRule[] }): (ip: string, port: number, protocol: string) => boolean {
  const block = (cidrs: string[]) => {
    const list = new BlockList();
    for (const c of cidrs) {
      const [addr, bits] = c.split("/");
      const type = addr!.includes(":") ? "ipv6" : "ipv4";
      list.addSubnet(addr!, Number(bits ?? (type === "ipv4" ? 32 : 128)), type);
    }
    return list;
  };
  return (ip, port, protocol) => {
    const type = ip.includes(":") ? "ipv6" : "ipv4";
    return spec.egress.some((rule) => {
      if (rule.ports && !rule.ports.some((p) => p.port === port && (p.protocol ?? "TCP") === protocol)) return false;
      if (!rule.to) return true;
      // A block matches addresses of its own family only (BlockList would take an IPv4 address
      // as IPv4-mapped and match it against ::/0).
      return rule.to.some((peer) => peer.ipBlock !== undefined && peer.ipBlock.cidr.includes(":") === (type === "ipv6") && block([peer.ipBlock.cidr]).check(ip, type) && !block(peer.ipBlock.except ?? []).check(ip, type));
    });
  };
}
