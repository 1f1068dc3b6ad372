import assert from "node:assert/strict";
import { it } from "node:test";
import { KubeConfig, type V1Deployment, type V1Pod } from "@kubernetes/client-node";
import { KubernetesDriver, type KubernetesDriverOptions } from "./kubernetes-driver.js";

/**
 * Which watch events wake the reconciler, without an API server: the informers' caches are
 * replaced by plain lists, and seenChanged is asked as the informers' handlers ask it.
 */
const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: "none", server: "http://127.0.0.1:9" }], users: [{ name: "none" }],
  contexts: [{ name: "none", cluster: "none", user: "none" }], currentContext: "none",
});

it("a watch event wakes the reconciler only when it changed what a pass acts on", () => {
  const Ctor = KubernetesDriver as unknown as new (o: KubernetesDriverOptions) => KubernetesDriver;
  const driver = new Ctor({ kubeConfig, image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane", checksumKey: Buffer.alloc(32, 1) });
  let pods: V1Pod[] = [];
  let deployments: V1Deployment[] = [];
  const internals = driver as unknown as { seenChanged: (ns: string) => boolean; forget: (ns: string) => void; pods: { list: () => V1Pod[] }; deployments: { list: () => V1Deployment[] } };
  internals.pods = { list: () => pods };
  internals.deployments = { list: () => deployments };
  const deployment = (replicas: number): V1Deployment => ({ metadata: { name: "runtime", annotations: { "flowplane.io/generation": "1" } }, spec: { replicas, selector: {}, template: {} } });
  const pod = (ready: boolean, ip?: string): V1Pod => ({
    metadata: { name: "runtime-abc", annotations: { "flowplane.io/generation": "1" } },
    status: { ...(ip ? { podIP: ip } : {}), conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  });

  deployments = [deployment(1)];
  assert.equal(internals.seenChanged("ns"), true, "the Deployment appears");
  deployments = [{ ...deployment(1), status: { replicas: 1, updatedReplicas: 1 } }];
  assert.equal(internals.seenChanged("ns"), false, "its status counters move: no pass");
  pods = [pod(false)];
  assert.equal(internals.seenChanged("ns"), true, "a pod appears");
  pods = [pod(false, "10.0.0.7")];
  assert.equal(internals.seenChanged("ns"), false, "it gets an IP: no pass");
  pods = [pod(true, "10.0.0.7")];
  assert.equal(internals.seenChanged("ns"), true, "it becomes ready");
  deployments = [deployment(0)];
  assert.equal(internals.seenChanged("ns"), true, "someone scales the Deployment");
  assert.equal(internals.seenChanged("other"), true, "namespaces are tracked apart");
  internals.forget("ns");
  assert.equal(internals.seenChanged("ns"), true, "after forget, the next event wakes a pass");
});
