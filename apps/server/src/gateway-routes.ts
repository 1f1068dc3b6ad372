import { NO_SCALE_TO_ZERO, liveRevisions, resolveLimits, type Store } from "@flowplane/core";
import type { GatewayRoute } from "./gateway/index.js";

/** The gateway's route lookup over the store: undeployed and being-undeployed routes are unknown (404). */
export function storeRouteResolver(store: Store): (routeId: string) => Promise<GatewayRoute | null> {
  return async (routeId) => {
    const d = await store.findDeploymentByRoute(routeId);
    if (!d || d.deletionRequestedAt || d.deletedAt) return null;
    return {
      projectId: d.projectId,
      appId: d.appId,
      routeId,
      kind: routeId === d.routes.http ? "http" : "mcp",
      deploymentId: d.id,
      resourceName: d.resourceName,
      networkAccess: d.networkAccess,
      requestTimeoutSeconds: d.runtime.requestTimeoutSeconds,
      disabled: Boolean(d.disabled),
      revision: d.revision,
      live: liveRevisions(d, new Date()),
      limits: resolveLimits(undefined, d.runtime.limits),
      // Also while asleep with scale to zero since turned off: the next request must still wake it.
      ...(d.runtime.scaleToZero?.idleMinutes != null || d.sleeping ? { wakeTimeoutSeconds: d.runtime.scaleToZero?.wakeTimeoutSeconds ?? NO_SCALE_TO_ZERO.wakeTimeoutSeconds } : {}),
    };
  };
}
