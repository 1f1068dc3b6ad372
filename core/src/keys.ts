import { createHash, randomBytes } from "node:crypto";

/**
 * Access keys: `fp_` + 32 random bytes (256 bits) in base64url. Only the sha256 of a key is
 * stored; with that much entropy a fast hash is enough (no salt or KDF needed: there is no
 * dictionary to attack). The key itself is shown once, when it is created.
 */
export const ACCESS_KEY_PREFIX = "fp_";
export { MIN_KEY_DAYS, MAX_KEY_DAYS } from "./api/identity.js";

export function generateAccessKey(): { key: string; hash: string; prefix: string } {
  const key = ACCESS_KEY_PREFIX + randomBytes(32).toString("base64url");
  return { key, hash: hashAccessKey(key), prefix: key.slice(0, 10) };
}

/**
 * Whether `key` has the shape of a key flowplane issues (`fp_` and 43 base64url characters).
 * Public knowledge, so no oracle: the failed-authentication limits use it to refuse, without a
 * lookup, what cannot be a key from an address that sent too many bad ones.
 */
export function accessKeyShaped(key: string | undefined): boolean {
  return key !== undefined && key.length === ACCESS_KEY_PREFIX.length + 43 && /^fp_[A-Za-z0-9_-]{43}$/.test(key);
}

export function hashAccessKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}
