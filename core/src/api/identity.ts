import { z } from "zod";
import { shownName, timeSchema } from "./common.js";

/**
 * A user's role in one project:
 * - `viewer`: sees the project's bundles and deployments.
 * - `editor`: also publishes, deploys, edits and scales.
 * - `owner`: also undeploys and manages the project's members.
 * Org owners hold every right in every project.
 */
export type Role = "owner" | "editor" | "viewer";
export const ROLES: readonly Role[] = ["owner", "editor", "viewer"];
export const roleSchema = z.enum(["owner", "editor", "viewer"], { error: 'role must be "owner", "editor" or "viewer"' });

/** `human`: a person (one live key at a time). `machine`: an application or agent (two, for rotation). */
export type UserKind = "human" | "machine";
export const userKindSchema = z.enum(["human", "machine"], { error: 'kind must be "human" or "machine"' });

export const MIN_KEY_DAYS = 1;
export const MAX_KEY_DAYS = 365;
/**
 * Live (unrevoked, unexpired) keys a user may hold at once: a machine user two, so it can
 * rotate (create the next, switch, revoke the old); a person one. Part of the contract so the
 * UI and the CLI can show the limit before the server refuses (409).
 */
export const MAX_LIVE_KEYS: Record<UserKind, number> = { human: 1, machine: 2 };
/**
 * Last use of a key is recorded at most once per this many seconds (a write per call would
 * make every gateway request a database write): `lastUsedAt` is exact to about a minute.
 */
export const KEY_LAST_USE_GRANULARITY_SECONDS = 60;

// Requests.

export const createUserSchema = z.object({
  name: shownName("name", 64),
  kind: userKindSchema,
}).strict();
export type CreateUserRequest = z.input<typeof createUserSchema>;

export const createKeySchema = z.object({
  expiresInDays: z.number({ error: "expiresInDays must be a number" }).int("expiresInDays must be a whole number")
    .min(MIN_KEY_DAYS, `expiresInDays must be at least ${MIN_KEY_DAYS}`).max(MAX_KEY_DAYS, `expiresInDays must be at most ${MAX_KEY_DAYS}`),
}).strict();
export type CreateKeyRequest = z.input<typeof createKeySchema>;

export const createProjectSchema = z.object({
  name: shownName("name", 63),
}).strict();
export type CreateProjectRequest = z.input<typeof createProjectSchema>;

export const setMemberSchema = z.object({ role: roleSchema }).strict();
export type SetMemberRequest = z.input<typeof setMemberSchema>;

/**
 * The CLI's challenge before it sends a local server the admin key it found on disk
 * (`POST /admin-key/proof`): 32 random bytes, base64url. See `adminKeyProof` (core keys.ts).
 */
export const adminKeyProofRequestSchema = z.object({
  nonce: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "nonce must be 32 random bytes in base64url (43 characters)"),
}).strict().meta({ id: "AdminKeyProofRequest" });

// Answers.

/** The server's answer to that challenge: the public port and addresses it listens on, and the proof bound to them. */
export const adminKeyProofSchema = z.strictObject({
  port: z.number().int().min(1).max(65535).meta({ description: "the port of the listener this server serves its API on (FLOWPLANE_PORT)" }),
  addresses: z.array(z.string().max(255)).max(8).meta({ description: "the addresses this server holds that port at (FLOWPLANE_HOST, and the other loopback family's when held); 0.0.0.0 and :: stand for every address of their family" }),
  proof: z.string().meta({ description: "base64url HMAC-SHA256, keyed with the admin key, of the port, the addresses and the nonce" }),
}).meta({ id: "AdminKeyProof" });
export type AdminKeyProofAnswer = z.infer<typeof adminKeyProofSchema>;

export const meSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  kind: userKindSchema,
  orgOwner: z.boolean(),
  roles: z.record(z.string(), roleSchema).meta({ description: "projectId → role" }),
}).meta({ id: "Me" });
export type Me = z.infer<typeof meSchema>;

export const userSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  kind: userKindSchema,
  orgOwner: z.boolean(),
  createdAt: timeSchema,
  deactivatedAt: timeSchema.nullable().meta({ description: "set once the user is deactivated: their keys stop working and no key can be created for them" }),
}).meta({ id: "User" });
export type User = z.infer<typeof userSchema>;

const accessKeyShape = {
  id: z.string(),
  userId: z.string(),
  prefix: z.string().meta({ description: "the first characters of the key, to recognise it; never enough to use it" }),
  createdAt: timeSchema,
  expiresAt: timeSchema,
  revokedAt: timeSchema.nullable(),
  lastUsedAt: timeSchema.nullable().meta({ description: "the last time the key authenticated a call (API or gateway), to about a minute; null if never" }),
};
export const accessKeySchema = z.strictObject(accessKeyShape).meta({ id: "AccessKey" });
export type AccessKey = z.infer<typeof accessKeySchema>;

/** The only answer that ever holds a key: the one that creates it. */
export const createdKeySchema = z.strictObject({ ...accessKeyShape, key: z.string() }).meta({ id: "CreatedAccessKey" });
export type CreatedKey = z.infer<typeof createdKeySchema>;

export const projectSchema = z.strictObject({ id: z.string(), name: z.string(), createdAt: timeSchema }).meta({ id: "Project" });
export type Project = z.infer<typeof projectSchema>;

export const memberSchema = z.strictObject({ projectId: z.string(), userId: z.string(), userName: z.string(), role: roleSchema }).meta({ id: "Member" });
export type Member = z.infer<typeof memberSchema>;

export const memberSetSchema = z.strictObject({ projectId: z.string(), userId: z.string(), role: roleSchema });
