import { z } from "zod";
import { parseModelHosts } from "@flowplane/engine-lfx";

/**
 * The runtime's configuration, read from the environment once (in main.ts) and validated here.
 * See README.md for the contract. Everything else in the environment is a deployment
 * parameter (a Langflow global variable) and goes to the engine, never to a log.
 */
const int = (min: number, fallback: number) => z.coerce.number().int().min(min).default(fallback);

const schema = z
  .object({
    FLOWPLANE_BUNDLE_URL: z.url().optional(),
    FLOWPLANE_BUNDLE_PATH: z.string().min(1).optional(),
    FLOWPLANE_BUNDLE_VERSION: z.string().min(1).optional(),
    FLOWPLANE_BUNDLE_DIGEST: z.string().regex(/^sha256:[0-9a-f]{64}$/, "must be sha256:<64 hex digits>").optional(),
    FLOWPLANE_IDENTITY_TOKEN: z.string().min(1).optional(),
    FLOWPLANE_IDENTITY_TOKEN_FILE: z.string().min(1).optional(),
    FLOWPLANE_BUNDLE_RETRIES: int(0, 5),
    FLOWPLANE_BUNDLE_RETRY_BASE_MS: int(1, 500),
    FLOWPLANE_BUNDLE_RETRY_MAX_MS: int(1, 30_000),
    FLOWPLANE_RUNTIME_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    PORT: z.coerce.number().int().min(0).max(65535).optional(),
    FLOWPLANE_RUNTIME_HOST: z.string().min(1).default("127.0.0.1"),
    FLOWPLANE_ENGINE: z.enum(["auto", "native", "lfx"]).default("auto"),
    FLOWPLANE_LFX_BIN: z.string().min(1).optional(),
    FLOWPLANE_LFX_START_TIMEOUT_MS: int(1, 120_000),
    FLOWPLANE_MODEL_HOSTS: z.string().default("").transform((v, ctx) => {
      try {
        return parseModelHosts(v);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
    FLOWPLANE_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
    FLOWPLANE_REQUEST_TIMEOUT_MS: int(1, 300_000),
    FLOWPLANE_SHUTDOWN_GRACE_MS: int(0, 30_000),
    FLOWPLANE_DRAIN_DELAY_MS: int(0, 1000),
    FLOWPLANE_MAX_BODY_BYTES: int(1, 1_048_576),
  })
  .refine((e) => e.FLOWPLANE_BUNDLE_URL || e.FLOWPLANE_BUNDLE_PATH, { message: "set FLOWPLANE_BUNDLE_URL (with an identity token) or FLOWPLANE_BUNDLE_PATH" });

export type LogLevel = "debug" | "info" | "warn" | "error";

export type BundleSource =
  | { kind: "url"; url: string; token: { value: string } | { file: string } | null; retries: number; retryBaseMs: number; retryMaxMs: number }
  | { kind: "path"; path: string };

export interface RuntimeConfig {
  bundle: BundleSource;
  expectedVersion: string | null;
  expectedDigest: string | null;
  host: string;
  port: number;
  engine: "auto" | "native" | "lfx";
  /**
   * The lfx engine: its executable (null: where scripts/setup-lfx.sh installs it), start-up
   * limit, and the model hosts on loopback/private networks lfx may call (FLOWPLANE_MODEL_HOSTS).
   */
  lfx: { bin: string | null; startTimeoutMs: number; modelHosts: string[] };
  logLevel: LogLevel;
  requestTimeoutMs: number;
  shutdownGraceMs: number;
  /**
   * After SIGTERM, how long the replica keeps serving (answering with `Connection: close`)
   * before it waits out in-flight requests and closes: requests already on their way from a
   * gateway that has not yet stopped routing here are served, not reset.
   */
  drainDelayMs: number;
  maxBodyBytes: number;
  /** The deployment's parameters: every variable not named FLOWPLANE_*. Values never logged. */
  parameters: Record<string, string>;
}

/** Validates the environment; throws an Error listing every problem (names only, never values). */
export function readConfig(env: Readonly<Record<string, string | undefined>>): RuntimeConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "environment"}: ${i.message}`);
    throw new Error(`invalid runtime configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const token = e.FLOWPLANE_IDENTITY_TOKEN_FILE ? { file: e.FLOWPLANE_IDENTITY_TOKEN_FILE } : e.FLOWPLANE_IDENTITY_TOKEN ? { value: e.FLOWPLANE_IDENTITY_TOKEN } : null;
  const bundle: BundleSource = e.FLOWPLANE_BUNDLE_PATH
    ? { kind: "path", path: e.FLOWPLANE_BUNDLE_PATH }
    : { kind: "url", url: e.FLOWPLANE_BUNDLE_URL as string, token, retries: e.FLOWPLANE_BUNDLE_RETRIES, retryBaseMs: e.FLOWPLANE_BUNDLE_RETRY_BASE_MS, retryMaxMs: e.FLOWPLANE_BUNDLE_RETRY_MAX_MS };
  const parameters: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith("FLOWPLANE_")) parameters[k] = v;
  return {
    bundle,
    expectedVersion: e.FLOWPLANE_BUNDLE_VERSION ?? null,
    expectedDigest: e.FLOWPLANE_BUNDLE_DIGEST ?? null,
    host: e.FLOWPLANE_RUNTIME_HOST,
    port: e.FLOWPLANE_RUNTIME_PORT ?? e.PORT ?? 8000,
    engine: e.FLOWPLANE_ENGINE,
    lfx: { bin: e.FLOWPLANE_LFX_BIN ?? null, startTimeoutMs: e.FLOWPLANE_LFX_START_TIMEOUT_MS, modelHosts: e.FLOWPLANE_MODEL_HOSTS },
    logLevel: e.FLOWPLANE_LOG_LEVEL,
    requestTimeoutMs: e.FLOWPLANE_REQUEST_TIMEOUT_MS,
    shutdownGraceMs: e.FLOWPLANE_SHUTDOWN_GRACE_MS,
    drainDelayMs: e.FLOWPLANE_DRAIN_DELAY_MS,
    maxBodyBytes: e.FLOWPLANE_MAX_BODY_BYTES,
    parameters,
  };
}
