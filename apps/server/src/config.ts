import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { fieldErrors } from "@flowplane/core";

/**
 * Configuration, read from the environment once (in main), validated, then passed down.
 * Defaults give a working single-machine install: `npm start` needs nothing set.
 */
export interface Config {
  host: string;
  port: number;
  privatePort: number;
  dataDir: string;
  databaseUrl: string | undefined;
  driver: "local" | "kubernetes";
  /** Base URL clients use to reach the public listener (endpoint URLs are built from it). */
  externalUrl: string;
  privateUrl: string;
  /** 32-byte credential encryption key; when absent, a 0600 key file in dataDir. */
  secretKey: Buffer | undefined;
  bodyLimitBytes: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

const port = (name: string, dflt: number) =>
  z.coerce.number({ error: `${name} must be a port number` }).int().min(1, `${name} must be 1..65535`).max(65535, `${name} must be 1..65535`).default(dflt);

const schema = z.object({
  FLOWPLANE_HOST: z.string().min(1).default("127.0.0.1"),
  FLOWPLANE_PORT: port("FLOWPLANE_PORT", 8080),
  FLOWPLANE_PRIVATE_PORT: port("FLOWPLANE_PRIVATE_PORT", 8081),
  FLOWPLANE_DATA_DIR: z.string().min(1).default(".flowplane"),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "DATABASE_URL must be a postgres:// URL").optional(),
  FLOWPLANE_DRIVER: z.enum(["local", "kubernetes"], { error: 'FLOWPLANE_DRIVER must be "local" or "kubernetes"' }).default("local"),
  FLOWPLANE_EXTERNAL_URL: z.url({ error: "FLOWPLANE_EXTERNAL_URL must be a URL" }).optional(),
  FLOWPLANE_PRIVATE_URL: z.url({ error: "FLOWPLANE_PRIVATE_URL must be a URL" }).optional(),
  FLOWPLANE_SECRET_KEY: z.string().optional(),
  FLOWPLANE_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024, "FLOWPLANE_BODY_LIMIT_BYTES must be at least 1024").default(10 * 1024 * 1024),
  FLOWPLANE_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export class ConfigError extends Error {}

/** A 32-byte key given as 64 hex characters or as base64. */
function parseKey(v: string): Buffer {
  const k = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, "hex") : Buffer.from(v, "base64");
  if (k.length !== 32) throw new ConfigError("FLOWPLANE_SECRET_KEY must be 32 bytes, as 64 hex characters or base64");
  return k;
}

export function loadConfig(env: NodeJS.ProcessEnv, cwd: string): Config {
  const r = schema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid configuration: ${fieldErrors(r.error).map((e) => `${e.field}: ${e.message}`).join("; ")}`);
  const e = r.data;
  const trim = (u: string) => u.replace(/\/+$/, "");
  return {
    host: e.FLOWPLANE_HOST,
    port: e.FLOWPLANE_PORT,
    privatePort: e.FLOWPLANE_PRIVATE_PORT,
    dataDir: isAbsolute(e.FLOWPLANE_DATA_DIR) ? e.FLOWPLANE_DATA_DIR : resolve(cwd, e.FLOWPLANE_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    driver: e.FLOWPLANE_DRIVER,
    externalUrl: trim(e.FLOWPLANE_EXTERNAL_URL ?? `http://localhost:${e.FLOWPLANE_PORT}`),
    privateUrl: trim(e.FLOWPLANE_PRIVATE_URL ?? `http://localhost:${e.FLOWPLANE_PRIVATE_PORT}`),
    secretKey: e.FLOWPLANE_SECRET_KEY ? parseKey(e.FLOWPLANE_SECRET_KEY) : undefined,
    bodyLimitBytes: e.FLOWPLANE_BODY_LIMIT_BYTES,
    logLevel: e.FLOWPLANE_LOG_LEVEL,
  };
}
