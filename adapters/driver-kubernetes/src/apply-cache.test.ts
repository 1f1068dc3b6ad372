import assert from "node:assert/strict";
import { it } from "node:test";
import { KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { DEFAULT_RESOURCES, type RuntimeSpec } from "@flowplane/core";
import { KubernetesDriver, type KubernetesDriverOptions } from "./kubernetes-driver.js";

/**
 * The driver's apply cache without an API server: its server-side apply is replaced by a model
 * of one namespace (create, terminate, vanish), so the cache's decisions are what is checked.
 * The informers are made but never started (no request leaves this process).
 */
const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: "none", server: "http://127.0.0.1:9" }], users: [{ name: "none" }],
  contexts: [{ name: "none", cluster: "none", user: "none" }], currentContext: "none",
});
const spec: RuntimeSpec = {
  deploymentId: "5d0c8c0e-1111-4222-8333-444455556666", projectId: "p-1", resourceName: "cache-ns", generation: 1,
  bundle: { name: "chat", version: "v1", digest: `sha256:${"b".repeat(64)}` },
  bundleUrl: "http://flowplane.invalid/internal/v1/deployments/x/bundle", identityToken: "", gatewaySecret: "gw",
  engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
  resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: { OPENAI_API_KEY: "sk-cache" },
};

it("a namespace deleted by hand: an apply refused while it terminated is sent whole once it is gone", async () => {
  const Ctor = KubernetesDriver as unknown as new (o: KubernetesDriverOptions) => KubernetesDriver;
  const driver = new Ctor({ kubeConfig, image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane", checksumKey: Buffer.alloc(32, 1) });
  const internals = driver as unknown as { collectRevisions: () => Promise<void>; ssa: (o: KubernetesObject) => Promise<void>; forget: (ns: string) => void; deployments: { get: () => KubernetesObject | undefined; list: () => KubernetesObject[] } };
  let ns: "absent" | "active" | "terminating" = "absent";
  const sent: string[] = [];
  // The watch's copy of the Deployment: what was last applied, while the namespace is active.
  let live: KubernetesObject | undefined;
  // Other revisions' garbage collection lists Services through the API: not what this test is about.
  internals.collectRevisions = async () => {};
  internals.deployments = { get: () => (ns === "active" ? live : undefined), list: () => (ns === "active" && live ? [live] : []) };
  internals.ssa = async (o) => {
    sent.push(o.kind!);
    if (o.kind === "Deployment" && ns === "active") live = o;
    if (o.kind === "Namespace") {
      if (ns === "absent") ns = "active";
      return;
    }
    if (ns === "terminating") throw Object.assign(new Error(`namespace ${spec.resourceName} is being terminated`), { code: 403 });
    if (ns === "absent") throw Object.assign(new Error(`namespace ${spec.resourceName} not found`), { code: 404 });
  };

  await driver.apply(spec);
  assert.equal(sent.length, 6, "all six objects applied");
  // The Namespace first, the Deployment last: its pods find their ServiceAccount and Secret there.
  assert.deepEqual([sent[0], sent.at(-1), [...sent.slice(1, -1)].sort()], ["Namespace", "Deployment", ["NetworkPolicy", "Secret", "Service", "ServiceAccount"]]);
  sent.length = 0;
  await driver.apply(spec);
  assert.deepEqual(sent, [], "unchanged: nothing sent");

  // Another control plane scaled it (a lease handed back and forth): the watch's copy differs.
  live = { ...live!, spec: { ...(live as { spec: object }).spec, replicas: 0 } } as KubernetesObject;
  await driver.apply(spec);
  assert.deepEqual(sent, ["Deployment"], "the Deployment is sent again, only it");
  sent.length = 0;

  // kubectl delete namespace: it terminates; the informer sees its Deployment go.
  ns = "terminating";
  internals.forget(spec.resourceName);
  await assert.rejects(driver.apply(spec), /being terminated/);
  // ...then it is gone.
  ns = "absent";
  sent.length = 0;
  await driver.apply(spec);
  assert.equal(sent[0], "Namespace", "the Namespace is applied again, first");
  assert.equal(sent.length, 6);
});

// A pass's applies run side by side: when one fails and the namespace is forgotten, the others,
// still in flight, finish after; they must not record themselves as applied, or the next
// namespace would not get them for ten minutes (pods naming a missing Secret, no Service).
for (const [stillThere, gone] of [["Secret", "ServiceAccount"], ["ServiceAccount", "Secret"]] as const) {
  it(`a terminating namespace where the ${stillThere} is still there and the ${gone} is gone: the next namespace gets every object`, async () => {
    const Ctor = KubernetesDriver as unknown as new (o: KubernetesDriverOptions) => KubernetesDriver;
    const driver = new Ctor({ kubeConfig, image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane", checksumKey: Buffer.alloc(32, 1) });
    const internals = driver as unknown as { collectRevisions: () => Promise<void>; ssa: (o: KubernetesObject) => Promise<void>; forget: (ns: string) => void; deployments: { get: () => KubernetesObject | undefined; list: () => KubernetesObject[] } };
    let ns: "absent" | "active" | "terminating" = "absent";
    const sent: string[] = [];
    internals.collectRevisions = async () => {};
    internals.deployments = { get: () => undefined, list: () => [] };
    internals.ssa = async (o) => {
      sent.push(o.kind!);
      if (o.kind === "Namespace") {
        if (ns === "absent") ns = "active";
        return;
      }
      if (ns === "terminating") {
        // A patch of an object not deleted yet is accepted (a little later); a create is refused.
        if (o.kind === gone) throw Object.assign(new Error("namespace is being terminated"), { code: 403 });
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await driver.apply(spec);
    // kubectl delete namespace; the informer saw the Deployment go.
    ns = "terminating";
    internals.forget(spec.resourceName);
    await assert.rejects(driver.apply(spec), /being terminated/);
    await new Promise((r) => setTimeout(r, 100)); // the applies still in flight finish
    ns = "absent";
    sent.length = 0;
    await driver.apply(spec);
    assert.deepEqual([...sent].sort(), ["Deployment", "Namespace", "NetworkPolicy", "Secret", "Service", "ServiceAccount"], "every object of the new namespace sent");
  });
}
