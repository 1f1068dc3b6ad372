import { z } from "zod";
import { decimalInt, pageOf, pageQuerySchema, timeSchema } from "./common.js";
import { maskedCredentialsSchema, resourcesOutSchema, runtimeOutSchema } from "./deployments.js";

/**
 * Revisions (DESIGN 11): every accepted change of what runs (bundle version, parameters,
 * credentials, runtime configuration, CPU/memory, engine) makes an immutable, numbered
 * revision of the deployment (1, 2, 3, ...). A scale-only change is not one. Answers carry
 * credential NAMES only, never a value; that includes plain parameters the deployer keeps secret
 * (held as credentials: `credentials.NAME` in `changes`, masked under `credentials`).
 */

/**
 * Why a revision exists:
 * - `deploy`: the deployment was created (revision 1).
 * - `edit`: a change of parameters, credentials, version, runtime or CPU/memory.
 * - `rollback`: a rollback restored an earlier revision (`rolledBackTo` names it).
 * - `adopted`: the state a deployment already had when revisions were introduced (migration 7).
 */
export type RevisionCause = "deploy" | "edit" | "rollback" | "adopted";
export const revisionCauseSchema = z.enum(["deploy", "edit", "rollback", "adopted"]);

const pairOut = resourcesOutSchema.shape.cpu;

export const revisionSchema = z.strictObject({
  revision: z.number().int().meta({ description: "1, 2, 3, ... per deployment" }),
  createdAt: timeSchema,
  createdBy: z.strictObject({ userId: z.string(), name: z.string() }),
  cause: revisionCauseSchema,
  rolledBackTo: z.number().int().nullable().meta({ description: "for a rollback: the revision it restored" }),
  changes: z.array(z.string()).meta({ description: 'the fields this revision changed from the one before it ("bundle.version", "parameters.TEMPERATURE", "credentials.OPENAI_API_KEY", "runtime.engine", "resources.cpu.limit"); empty for revision 1' }),
  bundle: z.strictObject({ name: z.string(), version: z.string(), digest: z.string() }),
  runtime: runtimeOutSchema,
  parameters: z.record(z.string(), z.string()).meta({ description: "effective plain parameter values, bar those kept secret (under credentials)" }),
  credentials: maskedCredentialsSchema,
  resources: z.strictObject({ cpu: pairOut, memory: pairOut }).meta({ description: "CPU and memory (the replica count is not part of a revision: scaling makes none)" }),
}).meta({ id: "Revision" });
export type Revision = z.infer<typeof revisionSchema>;
export const revisionPageSchema = pageOf(revisionSchema).meta({ id: "RevisionPage" });

/** One changed value: `null` on a side where it is absent. */
const valueChange = z.strictObject({ name: z.string(), from: z.string().nullable(), to: z.string().nullable() });

/** What differs between two revisions, `from` → `to`. Credentials by name only. */
export const revisionDiffSchema = z.strictObject({
  from: z.number().int(),
  to: z.number().int(),
  bundle: z.strictObject({ from: z.string(), to: z.string() }).nullable().meta({ description: "the version, when it differs" }),
  parameters: z.array(valueChange).meta({ description: "plain parameters whose effective values differ" }),
  credentials: z.strictObject({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) })
    .meta({ description: "credential names only (plain parameters kept secret included): held by `to` alone, by `from` alone, or held by both with different values" }),
  runtime: z.array(valueChange).meta({ description: "engine, logLevel, requestTimeoutSeconds, io.record, io.maxChars, tweaksPolicy" }),
  resources: z.array(valueChange).meta({ description: "cpu.request, cpu.limit, memory.request, memory.limit" }),
}).meta({ id: "RevisionDiff" });
export type RevisionDiff = z.infer<typeof revisionDiffSchema>;

const revisionNumber = (field: string) => decimalInt(field, 1, 2_147_483_647, "a revision number");

export const revisionDiffQuerySchema = z.object({ from: revisionNumber("from"), to: revisionNumber("to") });
export const listRevisionsQuerySchema = pageQuerySchema;

/** `POST .../rollback`: the revision to restore (as a new revision). */
export const rollbackRequestSchema = z.object({
  revision: z.number({ error: (i) => (i.input === undefined ? "revision is required: the number of the revision to roll back to" : "revision must be a number (3, not \"3\")") }).int("revision must be a whole number").min(1, "revision must be at least 1").max(2_147_483_647, "revision is too large"),
}).strict();
export type RollbackRequest = z.infer<typeof rollbackRequestSchema>;

/** The revision number in a path (`/revisions/{revision}`): an object, so a bad one is a 400 naming `revision`, not "the request body". */
export const revisionParamSchema = z.object({ revision: revisionNumber("revision") });
