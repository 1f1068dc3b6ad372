import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, NetworkingV1Api, PatchStrategy, loadAllYaml, type KubernetesObject } from "@kubernetes/client-node";
import { DEFAULT_RESOURCES, EGRESS_EXCLUDED_V4, EGRESS_EXCLUDED_V6, REVISION_LABEL, labelsFor, type RuntimeSpec } from "@flowplane/core";
import { memoryLogger } from "@flowplane/logging";
import { driverCases } from "@flowplane/driver-suite";
import { sleep, stepWallClock } from "@flowplane/testkit";
import { KubernetesDriver } from "./kubernetes-driver.js";
import { tokenReviewVerifier } from "./token-review.js";

/**
 * Against a real API server (scripts/k8s/run-tests.mjs starts one, with kwok as the nodes):
 * `npm run test:k8s`. KUBECONFIG names it.
 */
const kubeConfig = (): KubeConfig => {
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  return kc;
};
/**
 * The driver runs as the install's own identity, held to the install's own RBAC: the
 * ServiceAccount, ClusterRole and binding of deploy/kubernetes/flowplane.yaml, applied as they
 * are, and a token of that ServiceAccount (the test API server authorizes with RBAC). A verb the
 * driver uses and the manifest does not grant fails these tests with a 403, as it would in a
 * cluster (the admin identity of KUBECONFIG, a system:masters member, would hide it).
 */
const MANIFEST = new URL("../../../deploy/kubernetes/flowplane.yaml", import.meta.url);
type Rule = { resources?: string[]; verbs?: string[] };
let installIdentity: Promise<KubeConfig> | undefined;
const driverKubeConfig = (): Promise<KubeConfig> => (installIdentity ??= identityWith("tests"));
/** An identity held to the manifest's driver rules, as `edit` changes them (an older install's, say). */
async function identityWith(suffix: string, edit: (rules: Rule[]) => Rule[] = (r) => r): Promise<KubeConfig> {
  const admin = kubeConfig();
  type Doc = KubernetesObject & { rules?: unknown; subjects?: { name: string; namespace: string }[]; roleRef?: { name: string }; spec?: { matchConditions?: { name: string; expression: string }[]; variables?: { name: string; expression: string }[]; policyName?: string } };
  const docs = loadAllYaml(readFileSync(MANIFEST, "utf8")) as Doc[];
  const role = docs.find((o) => o.kind === "ClusterRole" && o.metadata?.name === "flowplane-driver");
  const binding = docs.find((o) => o.kind === "ClusterRoleBinding" && o.roleRef?.name === "flowplane-driver");
  assert.ok(role && binding, "the manifest's driver ClusterRole and its binding");
  // The admission policy that holds the driver's writes to flowplane's namespaces, for the account the binding names.
  const policy = docs.find((o) => o.kind === "ValidatingAdmissionPolicy");
  const policyBinding = docs.find((o) => o.kind === "ValidatingAdmissionPolicyBinding" && o.spec?.policyName === policy?.metadata?.name);
  assert.ok(policy && policyBinding, "the manifest's admission policy and its binding");
  const account = (ns: string, sa: string) => `request.userInfo.username == 'system:serviceaccount:${ns}:${sa}'`;
  assert.deepEqual(policy.spec!.matchConditions!.map((c) => c.expression), [account(binding.subjects![0]!.namespace, binding.subjects![0]!.name)], "the policy names the account the ClusterRole is bound to");
  // ...and the installation, FLOWPLANE_INSTALLATION's default (the manifest does not set it).
  const variables = policy.spec!.variables!;
  assert.equal(variables.find((v) => v.name === "installation")?.expression, "'default'");
  // The role's rules exactly as the manifest has them, under names of this file's own (the
  // install test applies the manifest itself and deletes its namespace when it is done).
  const name = `${binding.subjects![0]!.name}-${suffix}`;
  const namespace = "flowplane-driver-tests";
  const objects: KubernetesObject[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
    { apiVersion: role.apiVersion, kind: "ClusterRole", metadata: { name: `flowplane-driver-${suffix}` }, rules: edit(role.rules as Rule[]) } as KubernetesObject,
    { apiVersion: binding.apiVersion, kind: "ClusterRoleBinding", metadata: { name: `flowplane-driver-${suffix}` }, roleRef: { ...binding.roleRef, name: `flowplane-driver-${suffix}` }, subjects: [{ kind: "ServiceAccount", name, namespace }] } as KubernetesObject,
    // The policy as the manifest has it, for this identity: every driver test here runs under it.
    {
      ...policy, metadata: { name: `flowplane-driver-scope-${suffix}` },
      spec: { ...policy.spec, matchConditions: [{ name: "flowplane-control-plane", expression: account(namespace, name) }], variables: variables.map((v) => (v.name === "installation" ? { ...v, expression: `'${options.installation}'` } : v)) },
    } as KubernetesObject,
    { ...policyBinding, metadata: { name: `flowplane-driver-scope-${suffix}` }, spec: { ...policyBinding.spec, policyName: `flowplane-driver-scope-${suffix}` } } as KubernetesObject,
  ];
  const api = KubernetesObjectApi.makeApiClient(admin);
  for (const o of objects) await api.patch(o, undefined, undefined, "driver-tests", true, PatchStrategy.ServerSideApply);
  const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const kc = new KubeConfig();
  const cluster = admin.getCurrentCluster()!;
  kc.loadFromOptions({
    clusters: [{ name: "test", server: cluster.server, skipTLSVerify: true }],
    users: [{ name: "flowplane-control-plane", token: token.status!.token }],
    contexts: [{ name: "test", cluster: "test", user: "flowplane-control-plane" }],
    currentContext: "test",
  });
  // The API server loads a policy a moment after it is applied: wait for it, so that every test
  // that follows runs under it (a dry run, so nothing is written were it not live yet).
  const probe = kc.makeApiClient(CoreV1Api);
  for (const deadline = Date.now() + 30_000; ;) {
    const refused = await probe.createNamespacedSecret({ namespace: "default", dryRun: "All", body: { metadata: { name: "policy-probe" }, stringData: { k: "v" } } }).then(() => false, (e: unknown) => POLICY_REFUSAL.test(String((e as { body?: unknown }).body ?? e)));
    if (refused) break;
    if (Date.now() > deadline) assert.fail("the admission policy never became live");
    await new Promise((r) => setTimeout(r, 250));
  }
  return kc;
}
/** The words of the admission policy's first rule (deploy/kubernetes/flowplane.yaml). */
const POLICY_REFUSAL = /the flowplane control plane writes only in the namespaces of its installation/;

// An installation of its own: other test files' control planes sweep only theirs.
const options = { image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane", checksumKey: Buffer.alloc(32, 1), deleteTimeoutMs: 60_000, installation: "driver-tests" };

driverCases("kubernetes", {
  endpointsAnswer: false, // kwok's pods run no process
  logsAnswer: false, // nor have they a log to read: each pod's chunk says why
  replicasChangePool: false, // another live revision's pods run under its own Deployment
  timeoutMs: 120_000,
  async create() {
    const driver = await KubernetesDriver.create({ kubeConfig: await driverKubeConfig(), ...options });
    return { driver, cleanup: () => driver.close() };
  },
});

describe("kubernetes driver: resources, reasons, identity", { timeout: 300_000 }, () => {
  let driver: KubernetesDriver;
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const ns = `k8s-extra-${Date.now().toString(36)}`;
  before(async () => {
    driver = await KubernetesDriver.create({ kubeConfig: await driverKubeConfig(), ...options });
  });
  after(async () => {
    for (const n of [ns, `${ns}-big`, `${ns}-oldrole`, `${ns}-own`]) await driver.delete(n).catch(() => undefined);
    await driver.close();
  });

  const spec = (over: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
    deploymentId: "5d0c8c0e-1111-4222-8333-444455556666", projectId: "p-1", resourceName: ns, generation: 1, revision: 1,
    bundle: { name: "chat", version: "v1", digest: `sha256:${"b".repeat(64)}` },
    bundleUrl: "http://flowplane.flowplane.svc.cluster.local:8080/internal/v1/deployments/x/bundle", identityToken: "", gatewaySecret: "gw",
    engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 2 }, env: { OPENAI_API_KEY: "sk-k8s", "OPENRAG-QUERY-FILTER": "{}" }, ...over,
  });
  const until = async (what: string, cond: () => Promise<boolean>, ms = 120_000) => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.fail(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  /** The parameters Secret the Deployment's pods read (immutable, named by content). */
  const secretName = async (namespace = ns) => (await apps.readNamespacedDeployment({ name: "runtime", namespace })).spec!.template.spec!.containers[0]!.envFrom![0]!.secretRef!.name!;
  const parameterSecrets = async () => (await core.listNamespacedSecret({ namespace: ns, labelSelector: "flowplane.io/parameters=true" })).items.map((x) => x.metadata!.name!).sort();

  it("creates the six resources with the right content, and pods become ready", async () => {
    await driver.apply(spec());
    await until("2 ready pods", async () => (await driver.observe(ns)).replicas.filter((r) => r.state === "ready").length === 2);
    const namespace = await core.readNamespace({ name: ns });
    assert.equal(namespace.metadata?.labels?.["app.kubernetes.io/managed-by"], "flowplane");
    // No ServiceAccount of its own: the pods run as the namespace's default one, with no token mounted,
    // applied by flowplane (with the ClusterRole of the install) before the Deployment.
    await assert.rejects(core.readNamespacedServiceAccount({ name: "runtime", namespace: ns }), /404|not found/i);
    const account = await core.readNamespacedServiceAccount({ name: "default", namespace: ns });
    assert.equal(account.automountServiceAccountToken, false);
    assert.equal(account.metadata?.managedFields?.some((f) => f.manager === "flowplane" && f.operation === "Apply"), true, "applied by flowplane (never created with a POST: the role names the account)");
    const secret = await core.readNamespacedSecret({ name: await secretName(), namespace: ns });
    assert.equal(secret.immutable, true);
    assert.equal(Buffer.from(secret.data!.OPENAI_API_KEY!, "base64").toString(), "sk-k8s");
    assert.ok(secret.data!["OPENRAG-QUERY-FILTER"], "a global variable name with '-' is a valid key");
    // One Service, the running revision's own; none of all the pods.
    assert.deepEqual((await core.listNamespacedService({ namespace: ns })).items.map((x) => x.metadata!.name), ["runtime-r1"]);
    const svc = await core.readNamespacedService({ name: "runtime-r1", namespace: ns });
    assert.deepEqual(svc.spec?.ports?.map((p) => p.name), ["http", "mcp"]);
    assert.equal(svc.spec?.selector?.["flowplane.io/revision"], "1");
    const np = await net.readNamespacedNetworkPolicy({ name: "runtime", namespace: ns });
    assert.deepEqual(np.spec?.policyTypes, ["Ingress", "Egress"]);
    // 443 and 5432 on public addresses only, as the API server accepted and stored it (it refuses
    // an `except` outside its `cidr`): no private network, no metadata service.
    const open = np.spec?.egress?.find((r) => r.ports?.some((p) => p.port === 443));
    assert.deepEqual(open?.to?.map((p) => [p.ipBlock?.cidr, p.ipBlock?.except]), [["0.0.0.0/0", [...EGRESS_EXCLUDED_V4]], ["::/0", [...EGRESS_EXCLUDED_V6]]]);
    const dep = await apps.readNamespacedDeployment({ name: "runtime", namespace: ns });
    assert.deepEqual({ ...dep.spec?.strategy?.rollingUpdate }, { maxSurge: 1, maxUnavailable: 0 });
    assert.equal(dep.spec?.template.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(dep.spec?.template.spec?.serviceAccountName, "default");
    assert.equal(dep.spec?.template.spec?.automountServiceAccountToken, false);
    assert.equal(dep.metadata?.managedFields?.some((f) => f.manager === "flowplane"), true, "under flowplane's field manager");
    // The deployment's replicas are reached through their revision's Service, with or without a revision named.
    assert.deepEqual(driver.endpoints(ns), [`http://runtime-r1.${ns}.svc.cluster.local:8000`]);
    assert.deepEqual(driver.endpoints(ns, 1), [`http://runtime-r1.${ns}.svc.cluster.local:8000`]);
    assert.deepEqual(driver.endpoints(ns, 2), []);
  });

  it("creates a new deployment's objects with a POST; before the first change (in this process or after a restart) their fields move to the apply's ownership, so what it no longer names goes, in one rollout", async () => {
    const name = `${ns}-own`;
    const first = spec({ resourceName: name, revision: 7 });
    type Owned = { metadata?: { managedFields?: { manager?: string; operation?: string; subresource?: string }[] } };
    const owners = (o: Owned) => (o.metadata?.managedFields ?? []).filter((f) => f.manager === "flowplane" && !f.subresource).map((f) => f.operation);
    /** A driver whose requests through its object client are counted by verb and kind ("create Deployment", "apply NetworkPolicy", "move Namespace", "read Service"). */
    const counted = async (log?: ReturnType<typeof memoryLogger>["log"]) => {
      const d = await KubernetesDriver.create({ kubeConfig: await driverKubeConfig(), ...options, ...(log ? { log } : {}) });
      const sent: string[] = [];
      const objects = (d as unknown as { objects: KubernetesObjectApi }).objects;
      for (const verb of ["create", "patch", "read"] as const) {
        const call = objects[verb].bind(objects) as (...a: unknown[]) => Promise<KubernetesObject>;
        objects[verb] = ((o: KubernetesObject, ...rest: unknown[]) => {
          sent.push(`${verb === "patch" ? (rest[4] === PatchStrategy.ServerSideApply ? "apply" : "move") : verb} ${o.kind}`);
          return call(o, ...rest);
        }) as never;
      }
      return { d, sent };
    };
    const replicaSets = async () => (await apps.listNamespacedReplicaSet({ namespace: name })).items.length;
    const a = await counted();
    try {
      await a.d.apply(first);
      assert.deepEqual(a.sent.filter((x) => x.startsWith("create")).sort(), ["create Deployment", "create Namespace", "create NetworkPolicy", "create Secret", "create Service"], "the new objects were created with a POST");
      assert.deepEqual(a.sent.filter((x) => !x.startsWith("create")), ["apply ServiceAccount"], "the account is applied (the role names it), nothing else was sent");
      const dep = await apps.readNamespacedDeployment({ name: "runtime", namespace: name });
      assert.deepEqual(owners(dep), ["Update"], "a create's ownership");
      assert.equal(dep.metadata?.labels?.[REVISION_LABEL], "7");
      await until("the first ReplicaSet", async () => (await replicaSets()) === 1, 30_000);
    } finally {
      await a.d.close();
    }
    // Another driver, as after a restart: it knows nothing of what was created. The same
    // deployment with no revision named: the labels that named it are no longer in what it sends,
    // and must go from the objects (a create's fields left to its Update entry would stay for good).
    const { log, lines } = memoryLogger("warn");
    const b = await counted(log);
    try {
      await b.d.apply({ ...first, generation: 2, revision: undefined });
      const dep = await apps.readNamespacedDeployment({ name: "runtime", namespace: name });
      assert.equal(dep.metadata?.annotations?.["flowplane.io/generation"], "2", "the change was applied");
      assert.equal(dep.metadata?.labels?.[REVISION_LABEL], undefined, "the label the change dropped is gone");
      assert.equal(dep.spec?.template.metadata?.labels?.[REVISION_LABEL], undefined, "and the pods' label");
      for (const o of [dep, await core.readNamespace({ name }), await net.readNamespacedNetworkPolicy({ name: "runtime", namespace: name })]) {
        assert.deepEqual(owners(o), ["Apply"], `${o.kind ?? "object"}: its fields are the apply's now`);
      }
      // (The Service: revision 7's, kept while its pods are there, and sent again by this driver.)
      assert.deepEqual(b.sent.filter((x) => x.startsWith("move")).sort(), ["move Deployment", "move Namespace", "move NetworkPolicy", "move Service"], "each created object's ownership moved once, before its apply");
      assert.ok(!b.sent.includes("read Deployment") && !b.sent.includes("read NetworkPolicy"), `the watched kinds are looked at in the watch, not read: ${b.sent.join(", ")}`);
      // Moved before the change, not after it: one rollout, no ReplicaSet in between.
      await until("the change's ReplicaSet", async () => (await replicaSets()) >= 2, 30_000);
      await sleep(1_000);
      assert.equal(await replicaSets(), 2, "one new ReplicaSet for the one change");
      // Its own writes (the move, the apply) are not someone else's change of the policy.
      await sleep(1_000);
      assert.deepEqual(lines.filter((l) => /changed outside this process/.test(l.msg)).map((l) => l.msg), []);
      // Nothing more for the same content; the next change is one apply of each changed object, with no look first.
      b.sent.length = 0;
      await b.d.apply({ ...first, generation: 2, revision: undefined });
      assert.deepEqual([...b.sent], [], "an apply that changes nothing sends nothing");
      await b.d.apply({ ...first, generation: 3, revision: undefined, env: { ...first.env, OPENAI_API_KEY: "sk-k8s-3" } });
      assert.deepEqual(b.sent.filter((x) => !x.startsWith("apply")), [], `no look nor move once moved: ${b.sent.join(", ")}`);
      assert.equal((await apps.readNamespacedDeployment({ name: "runtime", namespace: name })).metadata?.annotations?.["flowplane.io/generation"], "3");
    } finally {
      await b.d.close();
    }
  });

  it("the install's role reaches only the namespaces' default accounts; under a role from before them the account is left to Kubernetes and the pass goes on", async () => {
    // The driver's own identity: another account, in this namespace or any, is refused.
    const mine = KubernetesObjectApi.makeApiClient(await driverKubeConfig());
    await assert.rejects(mine.patch({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "someone", namespace: ns } } as KubernetesObject, undefined, undefined, "flowplane", true, PatchStrategy.ServerSideApply), /forbidden|403/i);
    await assert.rejects((await driverKubeConfig()).makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "someone" } } }), /forbidden|403/i);
    // The image upgraded, the ClusterRole not: no rule on serviceaccounts, no watch of NetworkPolicies.
    // The driver starts, says what it lacks, and a new deployment still gets its Deployment.
    const oldRules = (rules: Rule[]) => rules.filter((r) => !r.resources?.includes("serviceaccounts")).map((r) => (r.resources?.includes("networkpolicies") ? { ...r, verbs: ["get", "create", "patch"] } : r));
    const { log, lines } = memoryLogger("warn");
    const old = await KubernetesDriver.create({ kubeConfig: await identityWith("oldrole", oldRules), ...options, log });
    try {
      assert.ok(lines.some((w) => /list and watch on NetworkPolicies/.test(w.msg)), JSON.stringify(lines));
      const other = `${ns}-oldrole`;
      await old.apply(spec({ resourceName: other, resources: { ...DEFAULT_RESOURCES, replicas: 1 } }));
      assert.equal((await apps.readNamespacedDeployment({ name: "runtime", namespace: other })).metadata?.annotations?.["flowplane.io/generation"], "1");
      await old.apply(spec({ resourceName: other, generation: 2, resources: { ...DEFAULT_RESOURCES, replicas: 1 } }));
      assert.equal((await apps.readNamespacedDeployment({ name: "runtime", namespace: other })).metadata?.annotations?.["flowplane.io/generation"], "2", "an edit reaches the cluster too");
    } finally {
      await old.close();
    }
  });

  it("the install's admission policy holds the driver's writes to its installation's namespaces, and to what cannot reach beyond them", async () => {
    const foreign = `${ns}-foreign`;
    const otherInstall = `${ns}-otherinst`;
    await core.createNamespace({ body: { metadata: { name: foreign, labels: { team: "someone" } } } });
    // Another installation's namespace on the same cluster.
    await core.createNamespace({ body: { metadata: { name: otherInstall, labels: { "app.kubernetes.io/managed-by": "flowplane", "flowplane.io/installation": "someone-else" } } } });
    const mine = KubernetesObjectApi.makeApiClient(await driverKubeConfig());
    const mineCore = (await driverKubeConfig()).makeApiClient(CoreV1Api);
    const ssa = (o: object) => mine.patch(o as KubernetesObject, undefined, undefined, "flowplane", true, PatchStrategy.ServerSideApply);
    const words = (re: RegExp) => (e: unknown) => re.test(String((e as { body?: unknown }).body ?? e));
    try {
      // A deployment whose namespace name is taken by someone else's namespace: refused, nothing of it written there.
      await assert.rejects(driver.apply(spec({ resourceName: foreign, resources: { ...DEFAULT_RESOURCES, replicas: 1 } })), POLICY_REFUSAL);
      const after = await core.readNamespace({ name: foreign });
      assert.deepEqual(after.metadata?.labels, { team: "someone", "kubernetes.io/metadata.name": foreign }, "not labelled flowplane's");
      assert.deepEqual((await apps.listNamespacedDeployment({ namespace: foreign })).items, []);
      // Nor can it write in, label as its own or delete someone else's namespace, another installation's, or the cluster's own.
      for (const target of [foreign, otherInstall]) {
        await assert.rejects(ssa({ apiVersion: "v1", kind: "Secret", metadata: { name: "planted", namespace: target }, stringData: { k: "v" } }), words(POLICY_REFUSAL));
        await assert.rejects(ssa({ apiVersion: "v1", kind: "Namespace", metadata: { name: target, labels: { "app.kubernetes.io/managed-by": "flowplane", "flowplane.io/installation": options.installation, "pod-security.kubernetes.io/enforce": "restricted" } } }), words(POLICY_REFUSAL));
        await assert.rejects(mineCore.deleteNamespace({ name: target }), words(POLICY_REFUSAL));
        assert.equal((await core.readNamespace({ name: target })).status?.phase, "Active");
      }
      await assert.rejects(mineCore.patchNamespace({ name: "kube-system", body: [{ op: "add", path: "/metadata/labels/app.kubernetes.io~1managed-by", value: "flowplane" }] }), words(POLICY_REFUSAL));
      // Secrets: it reads none, anywhere (its role grants no get or list, not even in its own
      // namespaces); its one bulk delete, by label, stops at its installation's namespaces. (The
      // API server asks admission about each Secret a deletecollection would delete, so each
      // namespace holds one that matches; a collection has no name for the policy's message, and
      // the API server names the rule that refused it instead.)
      const planted = `planted-${ns}`;
      try {
        for (const target of [foreign, otherInstall, "kube-system"]) {
          await core.createNamespacedSecret({ namespace: target, body: { metadata: { name: planted, labels: { "flowplane.io/parameters": "true" } }, stringData: { DB_PASSWORD: `hunter2-${target}` } } });
          await assert.rejects(mineCore.deleteCollectionNamespacedSecret({ namespace: target, labelSelector: "flowplane.io/parameters=true" }), words(/denied request: failed expression: variables\.ours/), `deletecollection in ${target}`);
          await assert.rejects(mineCore.listNamespacedSecret({ namespace: target }), /forbidden|403/i);
          await assert.rejects(mineCore.readNamespacedSecret({ namespace: target, name: planted }), /forbidden|403/i);
          assert.equal(Buffer.from((await core.readNamespacedSecret({ namespace: target, name: planted })).data!.DB_PASSWORD!, "base64").toString(), `hunter2-${target}`, `someone else's Secret in ${target} survives`);
        }
      } finally {
        await core.deleteNamespacedSecret({ namespace: "kube-system", name: planted }).catch(() => undefined);
      }
      await assert.rejects(mineCore.listNamespacedSecret({ namespace: ns }), /forbidden|403/i);
      // (RBAC answers before the object is looked up: forbidden, whether the Secret exists or not.)
      await assert.rejects(mineCore.readNamespacedSecret({ namespace: ns, name: "parameters-000000000000" }), /forbidden|403/i);
      await assert.rejects(mineCore.listSecretForAllNamespaces(), /forbidden|403/i);
      // A namespace of its own making: Pod Security `restricted` enforced, no label of its choosing.
      const labels = { "app.kubernetes.io/managed-by": "flowplane", "flowplane.io/installation": options.installation };
      const namespaceRule = /labels its namespaces with its own labels only, Pod Security restricted enforced/;
      await assert.rejects(ssa({ apiVersion: "v1", kind: "Namespace", metadata: { name: `${ns}-psa`, labels: { ...labels, "pod-security.kubernetes.io/enforce": "privileged" } } }), words(namespaceRule));
      await assert.rejects(ssa({ apiVersion: "v1", kind: "Namespace", metadata: { name: `${ns}-psa`, labels } }), words(namespaceRule));
      await assert.rejects(ssa({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { ...labels, "pod-security.kubernetes.io/enforce": "restricted", team: "payments" } } }), words(namespaceRule));
      assert.equal((await core.readNamespace({ name: ns })).metadata?.labels?.["pod-security.kubernetes.io/enforce"], "restricted", "the driver's own namespace enforces restricted");
      // In it: no Service that reaches beyond the cluster's own addresses, no Secret holding a token.
      await assert.rejects(ssa({ apiVersion: "v1", kind: "Service", metadata: { name: "mitm", namespace: ns }, spec: { selector: { a: "b" }, externalIPs: ["8.8.8.8"], ports: [{ port: 443 }] } }), words(/only Services of type ClusterIP without externalIPs/));
      await assert.rejects(ssa({ apiVersion: "v1", kind: "Service", metadata: { name: "exposed", namespace: ns }, spec: { type: "NodePort", selector: { a: "b" }, ports: [{ port: 443 }] } }), words(/only Services of type ClusterIP/));
      await assert.rejects(ssa({ apiVersion: "v1", kind: "Secret", metadata: { name: "token", namespace: ns, annotations: { "kubernetes.io/service-account.name": "default" } }, type: "kubernetes.io/service-account-token" }), words(/only Secrets of type Opaque/));
      // Pods beyond what Pod Security `restricted` sees: the node's root and network, a system-critical
      // priority (which preempts other namespaces' pods), an API token. Refused at the Deployment.
      const template = /writes only Deployments of flowplane runtime shape/;
      const restrictedPod = (extra: Record<string, unknown>) => ({
        securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } }, automountServiceAccountToken: false,
        containers: [{ name: "c", image: "busybox", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }], ...extra,
      });
      const deployment = (name: string, podSpec: Record<string, unknown>, namespace = ns) => ({
        apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace },
        spec: { replicas: 1, selector: { matchLabels: { a: name } }, template: { metadata: { labels: { a: name } }, spec: podSpec } },
      });
      await assert.rejects(ssa(deployment("node-root", { ...restrictedPod({ volumes: [{ name: "host", hostPath: { path: "/" } }] }) })), words(template));
      // Pod Security's own rules, checked at the Deployment too (where the cluster's Pod Security
      // admission would not hold, a namespace its configuration exempts, they still do).
      const podSecurity = /writes only Deployments whose pods meet Pod Security restricted/;
      await assert.rejects(ssa(deployment("host-net", restrictedPod({ hostNetwork: true, hostPID: true }))), words(podSecurity));
      const admin = restrictedPod({});
      admin.containers[0]!.securityContext = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"], add: ["SYS_ADMIN"] } } as typeof admin.containers[0]["securityContext"];
      await assert.rejects(ssa(deployment("sys-admin", admin)), words(podSecurity));
      await assert.rejects(ssa(deployment("as-root", { ...restrictedPod({}), securityContext: { runAsNonRoot: false, runAsUser: 0 } })), words(podSecurity));
      await assert.rejects(ssa(deployment("critical", restrictedPod({ priorityClassName: "system-node-critical" }))), words(template));
      await assert.rejects(ssa(deployment("pinned", restrictedPod({ nodeName: "kwok-node-1", tolerations: [{ operator: "Exists" }] }))), words(template));
      await assert.rejects(ssa(deployment("token", restrictedPod({ automountServiceAccountToken: true }))), words(template));
      await assert.rejects(ssa(deployment("claim", restrictedPod({ volumes: [{ name: "v", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } } }] }))), words(template));
      await assert.rejects(ssa(deployment("api-token", restrictedPod({ volumes: [{ name: "t", projected: { sources: [{ serviceAccountToken: { path: "t" } }] } }] }))), words(template));
      // A namespace of this installation made before the Pod Security label (an older flowplane's,
      // never applied again): no Deployment there until it carries the label.
      await core.createNamespace({ body: { metadata: { name: `${ns}-old`, labels } } });
      await assert.rejects(ssa(deployment("runtime", restrictedPod({}), `${ns}-old`)), words(/writes Deployments only in namespaces that enforce Pod Security restricted/));
      // What others put on its namespace stays: a policy engine's opt-in label, a node-pool annotation.
      await core.patchNamespace({ name: ns, body: [
        { op: "add", path: "/metadata/labels/policy.example.com~1enforced", value: "true" },
        { op: "add", path: "/metadata/annotations/scheduler.alpha.kubernetes.io~1node-selector", value: "pool=tenants" },
      ] });
      const kept = /keeps the labels and annotations others put on its namespaces/;
      await assert.rejects(mineCore.patchNamespace({ name: ns, body: [{ op: "remove", path: "/metadata/labels/policy.example.com~1enforced" }] }), words(kept));
      await assert.rejects(mineCore.patchNamespace({ name: ns, body: [{ op: "replace", path: "/metadata/annotations/scheduler.alpha.kubernetes.io~1node-selector", value: "" }] }), words(kept));
      await assert.rejects(mineCore.patchNamespace({ name: ns, body: [{ op: "add", path: "/metadata/annotations/linkerd.io~1inject", value: "disabled" }] }), words(kept));
      // ...and the driver's own applies go on beside them (a driver that trusts no earlier apply sends every object again).
      const eager = await KubernetesDriver.create({ kubeConfig: await driverKubeConfig(), ...options, reapplyAfterMs: 0 });
      try {
        await eager.apply(spec());
      } finally {
        await eager.close();
      }
      const labelled = await core.readNamespace({ name: ns });
      assert.equal(labelled.metadata?.labels?.["policy.example.com/enforced"], "true");
      assert.equal(labelled.metadata?.annotations?.["scheduler.alpha.kubernetes.io/node-selector"], "pool=tenants");
      assert.equal(labelled.metadata?.managedFields?.some((f) => f.manager === "flowplane" && f.operation === "Apply"), true);
    } finally {
      for (const n of [foreign, otherInstall, `${ns}-psa`, `${ns}-old`]) await core.deleteNamespace({ name: n }).catch(() => undefined);
    }
  });

  it("reads the pods' logs through the API with the install's role (pods/log): never refused", async () => {
    const chunks = await driver.readLogs(ns, { tailLines: 10 });
    assert.equal(chunks.length, 2);
    // kwok's pods have no log to give; what matters is that the API server let the driver ask.
    for (const c of chunks) assert.doesNotMatch(c.error ?? "", /HTTP 403/, JSON.stringify(c));
  });

  it("rolls a new ReplicaSet when a secret value changes; keeps the previous Secret for the old pods, prunes older ones", async () => {
    const before = (await apps.listNamespacedReplicaSet({ namespace: ns })).items.length;
    const first = await secretName();
    await driver.apply(spec({ generation: 2, env: { OPENAI_API_KEY: "sk-rotated", "OPENRAG-QUERY-FILTER": "{}" } }));
    await until("rolled to generation 2", async () => {
      const ob = await driver.observe(ns);
      return ob.replicas.length === 2 && ob.replicas.every((r) => r.generation === 2 && r.state === "ready");
    });
    const rs = (await apps.listNamespacedReplicaSet({ namespace: ns })).items;
    assert.equal(rs.length, before + 1);
    const second = await secretName();
    assert.notEqual(second, first, "a new value is a new immutable Secret");
    const secret = await core.readNamespacedSecret({ name: second, namespace: ns });
    assert.equal(Buffer.from(secret.data!.OPENAI_API_KEY!, "base64").toString(), "sk-rotated");
    assert.deepEqual(await parameterSecrets(), [first, second].sort(), "the previous one stays for the old ReplicaSet");
    // A third value: the first Secret is pruned, the second kept as the previous one. (The same
    // content again afterwards is the second name: applying it back rolls to the old values.)
    await driver.apply(spec({ generation: 3, env: { OPENAI_API_KEY: "sk-third", "OPENRAG-QUERY-FILTER": "{}" } }));
    const third = await secretName();
    assert.deepEqual(await parameterSecrets(), [second, third].sort());
    await driver.apply(spec({ generation: 4, env: { OPENAI_API_KEY: "sk-rotated", "OPENRAG-QUERY-FILTER": "{}" } }));
    assert.equal(await secretName(), second);
    assert.deepEqual(await parameterSecrets(), [second, third].sort());
    await until("rolled to generation 4", async () => {
      const ob = await driver.observe(ns);
      return ob.replicas.length === 2 && ob.replicas.every((r) => r.generation === 4 && r.state === "ready");
    });
  });

  it("under a ClusterRole from before deletecollection, a change of values leaves the past Secrets with a warning, and the pass goes on", async () => {
    const olderRules = (rules: Rule[]) => rules.map((r) => (r.resources?.includes("secrets") ? { ...r, verbs: ["get", "list", "create", "patch", "delete"] } : r));
    const { log, lines } = memoryLogger("warn");
    const older = await KubernetesDriver.create({ kubeConfig: await identityWith("predc", olderRules), ...options, log });
    const other = `${ns}-predc`;
    try {
      for (const [generation, key] of [[1, "sk-1"], [2, "sk-2"], [3, "sk-3"]] as const) {
        await older.apply(spec({ resourceName: other, generation, env: { OPENAI_API_KEY: key }, resources: { ...DEFAULT_RESOURCES, replicas: 1 } }));
      }
      assert.ok(lines.some((w) => w.resourceName === other && /cannot delete past parameters Secrets \(deletecollection on secrets forbidden/.test(String(w.msg))), JSON.stringify(lines));
      assert.equal((await core.listNamespacedSecret({ namespace: other, labelSelector: "flowplane.io/parameters=true" })).items.length, 3, "nothing pruned, nothing failed");
    } finally {
      await older.delete(other).catch(() => undefined);
      await older.close();
    }
  });

  it("keeps the Secret the Deployment named before its last change when a past revision is collected, and any Secret a pod still runs with", async () => {
    const ns2 = `${ns}-roll`;
    const replicas = { ...DEFAULT_RESOURCES, replicas: 1 };
    const warm = spec({ resourceName: ns2, generation: 1, revision: 1, env: { OPENAI_API_KEY: "sk-warm" }, resources: replicas });
    const names = async () => (await core.listNamespacedSecret({ namespace: ns2, labelSelector: "flowplane.io/parameters=true" })).items.map((x) => x.metadata!.name!);
    try {
      await driver.apply(spec({ resourceName: ns2, generation: 2, revision: 2, env: { OPENAI_API_KEY: "sk-A" }, others: [warm], resources: replicas }));
      const a = await secretName(ns2);
      await driver.apply(spec({ resourceName: ns2, generation: 3, revision: 2, env: { OPENAI_API_KEY: "sk-B" }, others: [warm], resources: replicas }));
      const b = await secretName(ns2);
      // The warm revision's time ends: a pass without it collects its Secret, not the one the
      // current Deployment's old pods started with.
      await driver.apply(spec({ resourceName: ns2, generation: 3, revision: 2, env: { OPENAI_API_KEY: "sk-B" }, resources: replicas }));
      await until("the warm revision collected", async () => (await apps.listNamespacedDeployment({ namespace: ns2 })).items.length === 1);
      assert.deepEqual((await names()).sort(), [a, b].sort());
      // A pod that still runs with Secret `a` (one of an old ReplicaSet, say): two changes later,
      // `a` is neither the current nor the previous one, and is kept while that pod is there.
      await core.createNamespacedPod({
        namespace: ns2,
        body: {
          metadata: { name: "old-replica", labels: labelsFor(spec({ resourceName: ns2 }), options.installation) },
          spec: { automountServiceAccountToken: false, securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } }, containers: [{ name: "runtime", image: "busybox", envFrom: [{ secretRef: { name: a } }], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }] },
        },
      });
      await until("the watch sees the pod", async () => (await driver.observe(ns2)).replicas.some((r) => r.id === "old-replica"), 30_000);
      await driver.apply(spec({ resourceName: ns2, generation: 4, revision: 2, env: { OPENAI_API_KEY: "sk-C" }, resources: replicas }));
      const c = await secretName(ns2);
      // The rollout done (the Deployment's pods of `b` gone), so that only the pod above holds one back.
      await until("rolled to generation 4", async () => {
        const rs = (await driver.observe(ns2)).replicas.filter((r) => r.id !== "old-replica");
        return rs.length === 1 && rs.every((r) => r.generation === 4 && r.state === "ready");
      });
      await driver.apply(spec({ resourceName: ns2, generation: 5, revision: 2, env: { OPENAI_API_KEY: "sk-D" }, resources: replicas }));
      const d = await secretName(ns2);
      assert.deepEqual((await names()).sort(), [a, c, d].sort(), "b pruned; a kept for the pod that runs with it");
    } finally {
      await driver.delete(ns2).catch(() => undefined);
    }
  });

  it("two control planes on one database: a Secret the other one pruned is sent again when a rollback to its values names it", async () => {
    const ns3 = `${ns}-two`;
    const replicas = { ...DEFAULT_RESOURCES, replicas: 1 };
    const other = await KubernetesDriver.create({ kubeConfig: await driverKubeConfig(), ...options });
    const rolled = (g: number) => until(`rolled to generation ${g}`, async () => { const r = (await driver.observe(ns3)).replicas; return r.length === 1 && r.every((x) => x.generation === g && x.state === "ready"); });
    try {
      await driver.apply(spec({ resourceName: ns3, generation: 1, env: { OPENAI_API_KEY: "sk-1" }, resources: replicas }));
      const s1 = await secretName(ns3);
      await rolled(1);
      await driver.apply(spec({ resourceName: ns3, generation: 2, env: { OPENAI_API_KEY: "sk-2" }, resources: replicas }));
      await rolled(2);
      // The other control plane takes the next change, and prunes the first Secret (neither current nor previous).
      await other.apply(spec({ resourceName: ns3, generation: 3, env: { OPENAI_API_KEY: "sk-3" }, resources: replicas }));
      await rolled(3);
      await assert.rejects(core.readNamespacedSecret({ name: s1, namespace: ns3 }), /404|not found/i, "pruned by the other control plane");
      // Back to the first values, by this one, which applied that Secret once: it is applied again.
      await driver.apply(spec({ resourceName: ns3, generation: 4, env: { OPENAI_API_KEY: "sk-1" }, resources: replicas }));
      assert.equal(await secretName(ns3), s1);
      assert.equal(Buffer.from((await core.readNamespacedSecret({ name: s1, namespace: ns3 })).data!.OPENAI_API_KEY!, "base64").toString(), "sk-1");
    } finally {
      await other.close();
      await driver.delete(ns3).catch(() => undefined);
    }
  });

  it("runs another live revision as its own Deployment, Secret and Service, and collects them once it is no longer live", async () => {
    const other = spec({ generation: 2, revision: 1, env: { OPENAI_API_KEY: "sk-k8s-warm", "OPENRAG-QUERY-FILTER": "{}" }, resources: { ...DEFAULT_RESOURCES, replicas: 1 } });
    const current = spec({ generation: 3, revision: 2, env: { OPENAI_API_KEY: "sk-k8s-now", "OPENRAG-QUERY-FILTER": "{}" }, others: [other] });
    await driver.apply(current);
    const warm = await apps.readNamespacedDeployment({ name: "runtime-r1", namespace: ns });
    assert.equal(warm.spec?.replicas, 1);
    assert.equal(warm.spec?.selector.matchLabels?.["flowplane.io/revision"], "1");
    assert.equal(warm.metadata?.labels?.["flowplane.io/revision"], "1");
    const warmSecret = warm.spec!.template.spec!.containers[0]!.envFrom![0]!.secretRef!.name!;
    assert.equal(Buffer.from((await core.readNamespacedSecret({ name: warmSecret, namespace: ns })).data!.OPENAI_API_KEY!, "base64").toString(), "sk-k8s-warm");
    for (const rev of ["1", "2"]) assert.equal((await core.readNamespacedService({ name: `runtime-r${rev}`, namespace: ns })).spec?.selector?.["flowplane.io/revision"], rev);
    await until("revision 1's pod ready", async () => { await driver.apply(current); return driver.endpoints(ns, 1).length === 1; });
    assert.match(driver.endpoints(ns, 1)[0]!, /^http:\/\/runtime-r1\./);
    // No longer live: its Deployment, Service and Secret go.
    const alone = spec({ generation: 3, revision: 2, env: { OPENAI_API_KEY: "sk-k8s-now", "OPENRAG-QUERY-FILTER": "{}" } });
    await until("revision 1 collected", async () => {
      await driver.apply(alone);
      const deps = (await apps.listNamespacedDeployment({ namespace: ns })).items.map((d) => d.metadata!.name!);
      const svcs = (await core.listNamespacedService({ namespace: ns })).items.map((x) => x.metadata!.name!);
      return !deps.includes("runtime-r1") && !svcs.includes("runtime-r1") && svcs.includes("runtime-r2");
    });
    assert.ok(!(await parameterSecrets()).includes(warmSecret), "the warm revision's Secret is pruned");
    assert.deepEqual(driver.endpoints(ns, 1), []);
  });

  it("sends nothing for an apply that changes nothing; re-applies after reapplyAfterMs, and at once when its Deployment was deleted by someone else", async () => {
    const current = spec({ generation: 4, env: { OPENAI_API_KEY: "sk-rotated", "OPENRAG-QUERY-FILTER": "{}" } });
    await driver.apply(current); // what the previous case applied: nothing is sent
    const name = await secretName();
    // Someone deletes the Secret: an unchanged apply within the window does not notice...
    await core.deleteNamespacedSecret({ name, namespace: ns });
    await driver.apply(current);
    await assert.rejects(core.readNamespacedSecret({ name, namespace: ns }), "no request was sent");
    // ...a driver that trusts its applies for 0 ms puts it back.
    const eager = await KubernetesDriver.create({ kubeConfig: kc, ...options, reapplyAfterMs: 0 });
    try {
      await eager.apply(current);
    } finally {
      await eager.close();
    }
    assert.equal(Buffer.from((await core.readNamespacedSecret({ name, namespace: ns })).data!.OPENAI_API_KEY!, "base64").toString(), "sk-rotated");
    // The Deployment deleted by hand: the informer's delete event makes the next apply send everything.
    await apps.deleteNamespacedDeployment({ name: "runtime", namespace: ns });
    await until("the driver saw the Deployment go", async () => !(await driver.observe(ns)).exists, 30_000);
    await driver.apply(current);
    await until("the Deployment is back", async () => (await driver.observe(ns)).exists, 30_000);
    await until("2 ready pods again", async () => (await driver.observe(ns)).replicas.filter((r) => r.state === "ready").length === 2);
  });

  it("re-applies after reapplyAfterMs however the wall clock steps (an hour back: on Date.now, nothing for the hour)", async () => {
    const current = spec({ generation: 4, env: { OPENAI_API_KEY: "sk-rotated", "OPENRAG-QUERY-FILTER": "{}" } });
    const soon = await KubernetesDriver.create({ kubeConfig: kc, ...options, reapplyAfterMs: 1_500 });
    let back = () => {};
    try {
      await soon.apply(current); // its first apply: sent (nothing changes)
      back = stepWallClock(-3_600_000); // NTP, or a VM resumed
      const name = await secretName();
      await core.deleteNamespacedSecret({ name, namespace: ns });
      await sleep(1_600);
      await soon.apply(current);
      assert.equal(Buffer.from((await core.readNamespacedSecret({ name, namespace: ns })).data!.OPENAI_API_KEY!, "base64").toString(), "sk-rotated");
    } finally {
      back();
      await soon.close();
    }
  });

  it("puts back at once a NetworkPolicy someone else deleted or changed, without waiting for reapplyAfterMs; its own applies wake nothing", async () => {
    const current = spec({ generation: 4, env: { OPENAI_API_KEY: "sk-rotated", "OPENRAG-QUERY-FILTER": "{}" } });
    // A driver of its own (a control plane started since), whose NetworkPolicy has one more egress
    // rule: its first apply changes the policy, which its own watch must not take for someone else's.
    const { log, lines } = memoryLogger("warn");
    const watcher = await KubernetesDriver.create({ kubeConfig: await driverKubeConfig(), ...options, modelHosts: ["10.9.9.9"], egressExclude: ["34.118.224.0/20", "2600:1f14::/40"], log });
    const policyWarnings = () => lines.filter((w) => /NetworkPolicy was changed outside this process/.test(w.msg)).map((w) => w.change);
    let passes = 0;
    try {
      await watcher.apply(current);
      const applied = await net.readNamespacedNetworkPolicy({ name: "runtime", namespace: ns });
      assert.ok(applied.spec?.egress?.some((r) => r.to?.some((p) => p.ipBlock?.cidr === "10.9.9.9/32")), "the watcher's policy is applied");
      // The operator's extra exclusions (FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE), one of each family, as the API server accepted them.
      const open = applied.spec?.egress?.find((r) => r.ports?.some((p) => p.port === 443));
      assert.deepEqual(open?.to?.map((p) => p.ipBlock?.except?.slice(-1)), [["34.118.224.0/20"], ["2600:1f14::/40"]]);
      // The reconciler's part: a pass for every change notice about the deployment.
      watcher.onChange((n) => { if (n === ns) { passes++; void watcher.apply(current).catch(() => undefined); } });
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(policyWarnings(), [], "its own apply is not someone else's change");
      // Deleted by hand: back, from the watch's notice alone (no re-apply is due for ten minutes).
      const uid = applied.metadata!.uid!;
      await net.deleteNamespacedNetworkPolicy({ name: "runtime", namespace: ns });
      await until("the NetworkPolicy is back", async () => (await net.readNamespacedNetworkPolicy({ name: "runtime", namespace: ns }).catch(() => null))?.metadata?.uid !== undefined, 30_000);
      assert.notEqual((await net.readNamespacedNetworkPolicy({ name: "runtime", namespace: ns })).metadata!.uid, uid, "a new object");
      assert.deepEqual(policyWarnings(), ["deleted"]);
      assert.ok(passes > 0);
      // Opened to all ingress by someone else: closed again.
      await net.patchNamespacedNetworkPolicy({ name: "runtime", namespace: ns, body: [{ op: "replace", path: "/spec/ingress", value: [{}] }] });
      await until("the policy's ingress is flowplane's again", async () => JSON.stringify((await net.readNamespacedNetworkPolicy({ name: "runtime", namespace: ns })).spec?.ingress) === JSON.stringify(applied.spec?.ingress), 30_000);
      assert.deepEqual(policyWarnings(), ["deleted", "modified"]);
    } finally {
      await watcher.close();
    }
  });

  it("a change of the NetworkPolicy that lands while the driver's own apply of it is under way is put back too", async () => {
    const raceNs = `${ns}-race`;
    const racer = await KubernetesDriver.create({ kubeConfig: await driverKubeConfig(), ...options });
    try {
      const current = spec({ resourceName: raceNs, resources: { ...DEFAULT_RESOURCES, replicas: 1 } });
      racer.onChange((n) => { if (n === raceNs) void racer.apply(current).catch(() => undefined); });
      // The interleaving: the policy's apply is answered; someone else opens the policy and the
      // watch delivers that change; only then does the driver read its apply's answer.
      const inner = racer as unknown as { objects: KubernetesObjectApi; policies: { get(name: string, namespace: string): { metadata?: { resourceVersion?: string } } | undefined } };
      // The driver's first send of a new namespace's policy is a create (a POST), any later one an apply: both are held.
      let raced = false;
      for (const verb of ["create", "patch"] as const) {
        const send = inner.objects[verb].bind(inner.objects) as (...a: unknown[]) => Promise<KubernetesObject>;
        inner.objects[verb] = (async (obj: KubernetesObject, ...rest: unknown[]) => {
          const out = await send(obj, ...rest);
          if (obj.kind === "NetworkPolicy" && !raced) {
            raced = true;
            const opened = await net.patchNamespacedNetworkPolicy({ name: "runtime", namespace: raceNs, body: [{ op: "replace", path: "/spec/ingress", value: [{}] }] });
            await until("the watch saw the change", async () => inner.policies.get("runtime", raceNs)?.metadata?.resourceVersion === opened.metadata?.resourceVersion, 10_000);
          }
          return out;
        }) as never;
      }
      await racer.apply(current);
      assert.ok(raced);
      await until("the policy's ingress is flowplane's again", async () => JSON.stringify((await net.readNamespacedNetworkPolicy({ name: "runtime", namespace: raceNs })).spec?.ingress) !== "[{}]", 30_000);
    } finally {
      await racer.delete(raceNs).catch(() => undefined);
      await racer.close();
    }
  });

  it("reports pods no node can take as Unschedulable", async () => {
    const big = `${ns}-big`;
    await driver.apply(spec({ resourceName: big, resources: { ...DEFAULT_RESOURCES, replicas: 1, cpu: { request: "1000", limit: "1000" } } }));
    await until("Unschedulable", async () => (await driver.observe(big)).failure?.reason === "Unschedulable", 60_000);
    assert.match((await driver.observe(big)).failure!.message, /Insufficient cpu|didn't match|nodes are available/);
    await driver.delete(big);
  });

  it("reports pods the cluster refuses to create (a quota here; an admission policy alike) as PodsRefused, with the cluster's words", async () => {
    const refused = `${ns}-quota`;
    // Made before flowplane's apply, with flowplane's labels (the admission policy lets the driver write only in such namespaces).
    await core.createNamespace({ body: { metadata: { name: refused, labels: { "app.kubernetes.io/managed-by": "flowplane", "flowplane.io/installation": options.installation } } } });
    await core.createNamespacedResourceQuota({ namespace: refused, body: { metadata: { name: "no-pods" }, spec: { hard: { pods: "0" } } } });
    await driver.apply(spec({ resourceName: refused, resources: { ...DEFAULT_RESOURCES, replicas: 1 } }));
    await until("PodsRefused", async () => (await driver.observe(refused)).failure?.reason === "PodsRefused", 60_000);
    assert.match((await driver.observe(refused)).failure!.message, /forbidden|quota/i);
    assert.equal((await driver.observe(refused)).replicas.length, 0);
    await driver.delete(refused);
  });

  it("validates a replica's projected token with a TokenReview and maps it to its deployment", async () => {
    const asked: string[] = [];
    const verifier = tokenReviewVerifier({ kubeConfig: kc, installation: options.installation, deploymentFor: async (name) => (asked.push(name), name === ns || name === `${ns}-taken` ? "dep-id" : null) });
    const token = async (audience: string, account = "default") => (await core.createNamespacedServiceAccountToken({
      name: account, namespace: ns, body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: [audience], expirationSeconds: 600 } },
    })).status!.token;
    assert.equal(await verifier.verify(await token("flowplane")), "dep-id");
    assert.deepEqual(asked, [ns]);
    // `runtime`: the account pods started before an upgrade still run as; any other is refused.
    for (const name of ["runtime", "someone"]) await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
    assert.equal(await verifier.verify(await token("flowplane", "runtime")), "dep-id");
    assert.equal(await verifier.verify(await token("flowplane", "someone")), null, "an account flowplane's pods never run as");
    assert.equal(await verifier.verify(await token("someone-else")), null, "another audience is refused");
    assert.equal(await verifier.verify("not-a-token"), null);
    // A namespace of the deployment's name that is not flowplane's (taken before flowplane could
    // make it, or made again by someone else after a delete by hand): its pods are not replicas,
    // whatever the store maps the name to. Another installation's namespace is not this one's either.
    const taken = `${ns}-taken`;
    await core.createNamespace({ body: { metadata: { name: taken, labels: { team: "someone" } } } });
    try {
      await until("the taken namespace's default account", async () => core.readNamespacedServiceAccount({ name: "default", namespace: taken }).then(() => true, () => false), 30_000);
      const foreign = (await core.createNamespacedServiceAccountToken({ name: "default", namespace: taken, body: { spec: { audiences: ["flowplane"], expirationSeconds: 600 } } })).status!.token;
      assert.equal(await verifier.verify(foreign), null);
      const elsewhere = tokenReviewVerifier({ kubeConfig: kc, installation: "someone-else", deploymentFor: async () => "dep-id" });
      assert.equal(await elsewhere.verify(await token("flowplane")), null, "another installation's replica");
    } finally {
      await core.deleteNamespace({ name: taken }).catch(() => undefined);
    }
  });

  it("sees only its own installation's namespaces", async () => {
    const other = await KubernetesDriver.create({ kubeConfig: kc, ...options, installation: "someone-else" });
    try {
      assert.ok(!(await other.list()).includes(ns));
      assert.equal((await other.observe(ns)).exists, false);
    } finally {
      await other.close();
    }
  });

  it("finds what it owns, and says clearly when a finalizer keeps a namespace from going", async () => {
    assert.ok((await driver.list()).includes(ns));
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "held", finalizers: ["example.com/hold"] } } });
    const stuck = await KubernetesDriver.create({ kubeConfig: kc, ...options, deleteTimeoutMs: 3_000 });
    try {
      await assert.rejects(stuck.delete(ns), /still terminating after 3 s.*finalizer/s);
    } finally {
      await stuck.close();
    }
    await core.patchNamespacedConfigMap({ name: "held", namespace: ns, body: [{ op: "remove", path: "/metadata/finalizers" }] });
    await driver.delete(ns);
    assert.ok(!(await driver.list()).includes(ns));
    assert.equal((await driver.observe(ns)).exists, false);
  });
});
