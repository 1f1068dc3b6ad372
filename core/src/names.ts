import { randomBytes } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** A random lowercase alphanumeric id: DNS-label safe, URL safe. 12 chars ≈ 62 bits. */
export function randomId(length = 12): string {
  const bytes = randomBytes(length);
  let out = "";
  // 36 does not divide 256: the slight bias is irrelevant for identifiers (never for secrets).
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

export const DNS_LABEL_MAX = 63;
const SUFFIX_LENGTH = 6;

/**
 * A DNS-1123 label derived from a display name plus `-<suffix>`: lowercase alphanumerics and
 * '-', starting with a letter, at most 63 characters. The suffix keeps two deployments with
 * the same display name apart; the label never changes after creation.
 */
export function deriveResourceName(displayName: string, suffix: string = randomId(SUFFIX_LENGTH)): string {
  const base = displayName
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "") // accents fall away: "Éclair" -> "eclair"
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, DNS_LABEL_MAX - suffix.length - 1)
    .replace(/-+$/, "");
  return `${base || "flow"}-${suffix}`;
}

export const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
