/**
 * The admin key's proof of possession (`POST /api/v1/admin-key/proof`), computed the same way by
 * the server that answers and the CLI that checks (Web Crypto: this module is also the web UI's).
 *
 * Why: with no key configured, the CLI calling a server on localhost uses the admin key it finds
 * in the local data folder. Sent as is, that key went to whatever listened on the port: another
 * account's process squatting it while flowplane was down, or relaying to the real server on
 * another port. Now the CLI first sends a random nonce; the server answers the HMAC-SHA256, keyed
 * with the admin key, of the nonce, the port it serves its API on and the addresses it holds that
 * port at. A squatter cannot make it (it lacks the key); a relayed answer names the real server's
 * port, not the one the CLI called; and the CLI sends the key only when every address its host
 * name resolves to is one the server holds (`addressHeld`), so no connection of the CLI's can
 * reach another process holding the same port on another address (::1 beside 127.0.0.1).
 */
const LABEL = "flowplane admin key proof v1";

/** What a server attests with its proof: the port it serves its API on and the addresses it holds it at. */
export interface AdminKeyListener {
  port: number;
  /** Listening addresses: IP literals, `0.0.0.0` for every IPv4 address, `::` for every IPv6 one. */
  addresses: readonly string[];
}

export async function adminKeyProof(key: string, at: AdminKeyListener, nonce: string): Promise<string> {
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey("raw", enc.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(`${LABEL}\n${at.port}\n${at.addresses.join(",")}\n${nonce}`))));
}

/** A fresh challenge: 32 random bytes, base64url (the request schema's shape). */
export function adminKeyNonce(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Bytes as unpadded base64url (Web APIs only: this module is also the web UI's). */
function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Whether `given` is the proof for this key, listener and nonce (compared in constant time). */
export async function adminKeyProofMatches(key: string, at: AdminKeyListener, nonce: string, given: string): Promise<boolean> {
  const want = await adminKeyProof(key, at, nonce);
  if (given.length !== want.length) return false;
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff |= want.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0;
}

/**
 * Whether a connection to `address` (an IP literal) reaches a listener on `addresses`: the same
 * address, or a wildcard of its family. IPv4-mapped IPv6 addresses count as IPv4.
 */
export function addressHeld(address: string, addresses: readonly string[]): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, "").replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
  const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(a);
  return addresses.some((h) => h === a || (v4 ? h === "0.0.0.0" : h === "::"));
}
