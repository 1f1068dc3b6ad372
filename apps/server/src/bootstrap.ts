import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import { hashAccessKey, type Store } from "@flowplane/core";
import type { IdentityService } from "./services/identity.js";

export const ADMIN_KEY_FILE = "admin.key";
export const SECRET_KEY_FILE = "secret.key";
const ADMIN_KEY_DAYS = 365;

/** Writes a file readable by its owner only, atomically (a crash leaves the old file or the new one). */
export async function writePrivateFile(path: string, content: string | Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/** The credential encryption key: the configured one, else a generated 0600 file in the data folder. */
export async function loadSecretKey(dataDir: string, configured: Buffer | undefined): Promise<Buffer> {
  if (configured) return configured;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, SECRET_KEY_FILE);
  const existing = await readIfExists(path);
  if (existing) {
    const key = Buffer.from(existing.toString("utf8").trim(), "base64");
    if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte base64 key`);
    return key;
  }
  const key = randomBytes(32);
  await writePrivateFile(path, `${key.toString("base64")}\n`);
  return key;
}

export const INSTANCE_ID_FILE = "instance.id";

/**
 * A random name for this data folder, created on its first start and kept: it tells apart two
 * folders even on machines with the same host name and path (containers), and stays the same
 * across restarts of the process that owns the folder.
 */
export async function loadInstanceId(dataDir: string): Promise<string> {
  const path = join(dataDir, INSTANCE_ID_FILE);
  const existing = (await readIfExists(path))?.toString("utf8").trim();
  if (existing && /^[0-9a-f]{32}$/.test(existing)) return existing;
  const id = randomBytes(16).toString("hex");
  await writePrivateFile(path, `${id}\n`);
  return id;
}

/**
 * Makes sure the organisation owner exists and that admin.key holds a live key of theirs.
 * First start: creates both. Later starts: keeps a live admin.key as it is; if the file is
 * gone or its key expired or was revoked, revokes the owner's keys and writes a new one
 * (deleting admin.key and restarting is how a lost or leaked admin key is rotated).
 * Returns the file's path, the key it holds (the CLI's admin-key challenge is answered with it:
 * http/admin-key-proof.ts) and whether a new key was written.
 */
export async function ensureOrgOwner(o: { store: Store; identity: IdentityService; dataDir: string; now: () => Date }): Promise<{ path: string; key: string; created: boolean }> {
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  const path = join(o.dataDir, ADMIN_KEY_FILE);
  let owner = await o.store.findOrgOwner();
  if (!owner) owner = await o.store.createUser({ id: randomUUID(), name: "admin", kind: "human", orgOwner: true });
  const existing = (await readIfExists(path))?.toString("utf8").trim();
  if (existing) {
    const live = await o.store.findLiveKey(hashAccessKey(existing), o.now());
    if (live && live.user.id === owner.id) return { path, key: existing, created: false };
  }
  for (const k of await o.store.listKeys(owner.id)) if (!k.revokedAt) await o.store.revokeKey(k.id, o.now());
  const issued = await o.identity.issueKey(owner, ADMIN_KEY_DAYS);
  await writePrivateFile(path, `${issued.key}\n`);
  return { path, key: issued.key, created: true };
}
