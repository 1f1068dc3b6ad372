/**
 * The admin key's proof of possession (`POST /api/v1/admin-key/proof`), computed the same way by
 * the server that answers and the CLI that checks (Web Crypto: this module is also the web UI's).
 *
 * Why: with no key configured, the CLI calling a server on localhost uses the admin key it finds
 * in the local data folder. Sent as is, that key went to whatever listened on the port: another
 * account's process squatting it while flowplane was down, or relaying to the real server on
 * another port. Now the CLI first sends a random nonce; the server answers the HMAC-SHA256, keyed
 * with the admin key, of the nonce and the port it serves its API on. A squatter cannot make it
 * (it lacks the key) and a relayed answer names the real server's port, not the one the CLI
 * called, so the key is sent only to the server that wrote it.
 */
const LABEL = "flowplane admin key proof v1";

export async function adminKeyProof(key: string, port: number, nonce: string): Promise<string> {
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey("raw", enc.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(`${LABEL}\n${port}\n${nonce}`)));
  let bin = "";
  for (const b of mac) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh challenge: 32 random bytes, base64url (the request schema's shape). */
export function adminKeyNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Whether `given` is the proof for this key, port and nonce (compared in constant time). */
export async function adminKeyProofMatches(key: string, port: number, nonce: string, given: string): Promise<boolean> {
  const want = await adminKeyProof(key, port, nonce);
  if (given.length !== want.length) return false;
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff |= want.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0;
}
