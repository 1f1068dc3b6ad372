import { AuthenticationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { TOKEN_AUDIENCE, installationLabels, type IdentityVerifier } from "@flowplane/core";
import { statusOf } from "./status.js";

export interface TokenReviewOptions {
  kubeConfig: KubeConfig;
  deploymentFor(resourceName: string): Promise<string | null>;
  /** The installation whose namespaces replicas run in (FLOWPLANE_INSTALLATION; default `default`). */
  installation?: string;
  now?: () => number;
}

/** How long a namespace's verdict is kept: flowplane's for a minute, another's for a few seconds (it may be made soon). */
const OURS_MS = 60_000;
const NOT_OURS_MS = 5_000;

/**
 * Replica identity in a cluster: the pod's projected ServiceAccount token (audience
 * `flowplane`), checked by the API server itself through a TokenReview. The authenticated
 * user `system:serviceaccount:<namespace>:default` names the namespace, which is the
 * deployment's resource name; `deploymentFor` maps it to the deployment id. (`runtime`: the
 * account replicas ran as before flowplane stopped making one; the driver keeps it on those
 * Deployments until they change anyway.)
 *
 * The name alone is not enough: a namespace of that name may be someone else's (taken before
 * flowplane could make it, which the install's admission policy then refuses to take over, or
 * made again after it was deleted by hand), and a pod there can mint a token of audience
 * `flowplane` too. So the namespace must carry this installation's labels, which the
 * admission policy lets only flowplane's control plane put on a namespace it made.
 */
export function tokenReviewVerifier(o: TokenReviewOptions): IdentityVerifier {
  const api = o.kubeConfig.makeApiClient(AuthenticationV1Api);
  const core = o.kubeConfig.makeApiClient(CoreV1Api);
  // Monotonic: on a wall clock stepped back an hour, an "ours" verdict was kept for the hour, for
  // a namespace deleted and made again by someone else meanwhile too.
  const now = o.now ?? (() => performance.now());
  const verdicts = new Map<string, { ours: boolean; until: number }>();
  const ours = async (name: string): Promise<boolean> => {
    const kept = verdicts.get(name);
    if (kept && kept.until > now()) return kept.ours;
    let labels: Record<string, string> = {};
    try {
      labels = (await core.readNamespace({ name })).metadata?.labels ?? {};
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
    const yes = Object.entries(installationLabels(o.installation)).every(([k, v]) => labels[k] === v);
    if (verdicts.size >= 10_000) verdicts.clear();
    verdicts.set(name, { ours: yes, until: now() + (yes ? OURS_MS : NOT_OURS_MS) });
    return yes;
  };
  return {
    async verify(token) {
      const review = await api.createTokenReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: [TOKEN_AUDIENCE] } } });
      const s = review.status;
      if (!s?.authenticated || !(s.audiences ?? []).includes(TOKEN_AUDIENCE)) return null;
      const m = /^system:serviceaccount:([a-z0-9-]+):(?:default|runtime)$/.exec(s.user?.username ?? "");
      if (!m?.[1] || !(await ours(m[1]))) return null;
      return o.deploymentFor(m[1]);
    },
  };
}
