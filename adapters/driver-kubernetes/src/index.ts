export { KubernetesDriver, type KubernetesDriverOptions } from "./kubernetes-driver.js";
export { tokenReviewVerifier } from "./token-review.js";
export { replicaOf } from "./pods.js";
export { KubeConfig } from "@kubernetes/client-node";
export { PooledKubeConfig } from "./kube-config.js";
