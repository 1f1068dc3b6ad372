import { AuthenticationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { TOKEN_AUDIENCE, type IdentityVerifier } from "@flowplane/core";

/**
 * Replica identity in a cluster: the pod's projected ServiceAccount token (audience
 * `flowplane`), checked by the API server itself through a TokenReview. The authenticated
 * user `system:serviceaccount:<namespace>:default` names the namespace, which is the
 * deployment's resource name; `deploymentFor` maps it to the deployment id. (`runtime`: the
 * account replicas ran as before flowplane stopped making one; the driver keeps it on those
 * Deployments until they change anyway. Either is an account of a namespace only flowplane puts
 * pods in.)
 */
export function tokenReviewVerifier(o: { kubeConfig: KubeConfig; deploymentFor(resourceName: string): Promise<string | null> }): IdentityVerifier {
  const api = o.kubeConfig.makeApiClient(AuthenticationV1Api);
  return {
    async verify(token) {
      const review = await api.createTokenReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: [TOKEN_AUDIENCE] } } });
      const s = review.status;
      if (!s?.authenticated || !(s.audiences ?? []).includes(TOKEN_AUDIENCE)) return null;
      const m = /^system:serviceaccount:([a-z0-9-]+):(?:default|runtime)$/.exec(s.user?.username ?? "");
      return m?.[1] ? o.deploymentFor(m[1]) : null;
    },
  };
}
