import type { DeploymentCredentials, ManifestOptions, Store } from "@flowplane/core";

/** What every service is given: collaborators passed in, never imported as singletons. */
export interface ServiceDeps {
  store: Store;
  credentials: DeploymentCredentials;
  /** Injected so tests can move time (key expiry). */
  now: () => Date;
  /** How long the revision before a change keeps a warm replica, for an instant rollback (0: none). */
  warmRevisionSeconds: number;
  /** Base URLs of the public and the private gateway listeners, for endpoint URLs. */
  urls: { public: string; private: string };
  /** How deployments map to Kubernetes resources (shown by the manifests endpoint whatever the driver). */
  /** What the manifests shown are rendered with: the reconciler's options (its replicas' body limit among them). */
  manifests: ManifestOptions & { bundleUrl(deploymentId: string): string; gatewaySecret(deploymentId: string): string; maxBodyBytes?: number };
  /** Called after every accepted change of a deployment's desired state (wakes the reconciler). */
  notify?: (deploymentId: string) => void;
}
