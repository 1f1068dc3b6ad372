import { ForbiddenError, UnauthenticatedError, accessKeyShaped, gatewaySecretChecker, type Principal } from "@flowplane/core";
import type { AuthFailures } from "./auth-failures.js";
import { accessKeyOf } from "./http/access-key.js";

type Headers = Record<string, string | string[] | undefined>;

/**
 * Who may read /metrics: the series name every team's deployments, routes and request counts,
 * and the listener that serves them (the private one) is reachable by the replicas, which run
 * tenants' flows (on the local driver, on this machine). So a scrape carries either
 *
 * - the metrics token (FLOWPLANE_METRICS_TOKEN) as `Authorization: Bearer`: what Prometheus
 *   sends from `authorization.credentials_file`, a credential that opens nothing else (an access
 *   key expires within a year and would give Prometheus the whole API); or
 * - an org owner's access key, sent as to the API (x-access-key, Authorization: Bearer): an
 *   operator's curl; org owners already see every deployment. A project owner's key does not do:
 *   the series cover other teams' deployments.
 *
 * Resolves when allowed; otherwise throws the domain error (401: none, or unknown; 403: not an
 * org owner; 429: an address over its failed-authentication budget) that http/errors.ts maps, as
 * the API's own refusals are. A wrong credential here is charged to the caller's address in the
 * API's own budget (auth-failures.ts): /metrics is no unmetered way to try keys, nor to try
 * tokens. The right token passes whatever the budget, as a valid key does.
 */
export function metricsAccess(o: { token: string | undefined; authenticate(key: string): Promise<Principal>; failures: AuthFailures }): (headers: Headers, address: string) => Promise<void> {
  // The replicas' own constant-time check of one expected secret (sha256 digests compared with
  // timingSafeEqual: equal lengths, no early exit on a prefix), here for the metrics token.
  const isToken = o.token ? gatewaySecretChecker(o.token) : () => false;
  return async (headers, address) => {
    const presented = accessKeyOf(headers);
    await o.failures.authenticate(address, presented, () => presented !== undefined && (isToken(presented) || accessKeyShaped(presented)), async () => {
      if (presented === undefined) throw new UnauthenticatedError("/metrics needs the metrics token (Authorization: Bearer) or an org owner's access key");
      if (isToken(presented)) return;
      // Unknown, expired, revoked, or a deactivated user's: the identity service's own 401.
      const principal = await o.authenticate(presented);
      if (!principal.orgOwner) throw new ForbiddenError("/metrics is for org owners and the metrics token: it covers every project's deployments");
    }, () => presented !== undefined && isToken(presented)); // the token needs no lookup: it never waits in line
  };
}
