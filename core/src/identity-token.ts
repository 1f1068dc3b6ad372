import { createHmac, hash, hkdfSync, timingSafeEqual } from "node:crypto";

/**
 * Per-deployment identity tokens for the local driver (DESIGN 5: "a per-deployment token issued
 * by the control plane"): `fpd_<deploymentId>.<HMAC-SHA256(identityKey, deploymentId)>`.
 * Stateless: nothing is stored, so nothing can leak from the database; the identity key is
 * derived (HKDF) from the credential key, so one secret kept outside the database serves both
 * without reusing a key for two purposes. A token names its deployment; the bundle endpoint
 * still checks that the deployment exists and is not undeployed.
 */
export interface IdentityTokens {
  issue(deploymentId: string): string;
  /** The deployment a token was issued for, or null for a forged or malformed token. */
  verify(token: string): string | null;
}

const PREFIX = "fpd_";

/** A key for one purpose, derived from the credential key: one secret outside the database, no key used twice. */
export function deriveKey(secretKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secretKey, Buffer.alloc(0), `flowplane ${purpose} v1`, 32));
}

export function createIdentityTokens(secretKey: Buffer): IdentityTokens {
  const key = deriveKey(secretKey, "deployment identity");
  const mac = (id: string) => createHmac("sha256", key).update(id).digest("base64url");
  return {
    issue: (deploymentId) => `${PREFIX}${deploymentId}.${mac(deploymentId)}`,
    verify(token) {
      if (!token.startsWith(PREFIX)) return null;
      const dot = token.lastIndexOf(".");
      if (dot <= PREFIX.length) return null;
      const id = token.slice(PREFIX.length, dot);
      // Digests, not Buffer.from(text): no slice of Node's shared pool per call (replica-access.ts).
      return timingSafeEqual(hash("sha256", token.slice(dot + 1), "buffer"), hash("sha256", mac(id), "buffer")) ? id : null;
    },
  };
}
