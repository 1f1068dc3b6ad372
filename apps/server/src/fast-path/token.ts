/**
 * An id, hash or secret a native proxy may hold in its entries: flowplane's own ids and hashes
 * only, never spaces, `;` or quotes (HAProxy's runtime API splits commands on them), and short.
 * A route or key with anything else stays with the Node workers.
 */
export function safeToken(v: string): boolean {
  return /^[A-Za-z0-9._:/|=+~-]+$/.test(v) && v.length < 1024;
}
