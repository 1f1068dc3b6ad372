import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * Authenticated encryption for credentials at rest (AES-256-GCM). The key lives outside the
 * database (FLOWPLANE_SECRET_KEY or a 0600 key file), so a database dump alone reveals nothing.
 * `aad` binds a ciphertext to its owner (the deployment id): a blob copied onto another row
 * fails to decrypt instead of leaking one deployment's credentials into another.
 * Layout: version byte 1 | 12-byte IV | 16-byte tag | ciphertext.
 */
export interface SecretBox {
  seal(plaintext: string, aad: string): Buffer;
  open(sealed: Buffer, aad: string): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error("the credential encryption key must be 32 bytes");
  return {
    seal(plaintext, aad) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(aad));
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), body]);
    },
    open(sealed, aad) {
      if (sealed[0] !== 1 || sealed.length < 29) throw new Error("unknown credential envelope");
      const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(1, 13));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(sealed.subarray(13, 29));
      return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString("utf8");
    },
  };
}
