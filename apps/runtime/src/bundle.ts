import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { bundleDigest } from "@flowplane/core/replica";
import type { BundleSource } from "./config.js";
import type { Logger } from "@flowplane/core/replica";

/** A bundle as the control plane serves it: its name, version, digest and raw flow exports. */
export interface Bundle {
  name: string;
  versionTag: string;
  digest: string;
  flows: unknown[];
  /**
   * True when `digest` was computed here from `flows` rather than claimed by the bundle (a flow
   * export or a folder of them), so verifying need not hash the flows again: hashing is the
   * canonical JSON of every flow, tens of milliseconds per megabyte of a replica's start.
   */
  digestOfFlows?: true;
}

/** A start-up failure that must end the process with a clear reason (digest mismatch, download failed). */
export class FatalStartError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** `{name, versionTag, digest, flows}`, or a single flow export (wrapped into a one-flow bundle). */
function asBundle(json: unknown, where: string): Bundle {
  if (isObject(json) && Array.isArray(json.flows)) {
    return {
      name: typeof json.name === "string" ? json.name : "bundle",
      versionTag: typeof json.versionTag === "string" ? json.versionTag : "",
      ...(typeof json.digest === "string" ? { digest: json.digest } : { digest: bundleDigest(json.flows), digestOfFlows: true }),
      flows: json.flows,
    };
  }
  if (isObject(json) && (isObject(json.data) || Array.isArray(json.nodes))) return { name: "bundle", versionTag: "", digest: bundleDigest([json]), digestOfFlows: true, flows: [json] };
  throw new FatalStartError(`${where} is neither a bundle ({name, versionTag, digest, flows}) nor a Langflow flow export`);
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch (err) {
    throw new FatalStartError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** FLOWPLANE_BUNDLE_PATH: a bundle file, a flow export file, or a folder of flow exports (sorted by name). */
export async function readBundlePath(path: string): Promise<Bundle> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new FatalStartError(`FLOWPLANE_BUNDLE_PATH ${path} does not exist`);
  if (!info.isDirectory()) return asBundle(await readJson(path), path);
  const files = (await readdir(path)).filter((f) => f.endsWith(".json")).sort();
  if (files.length === 0) throw new FatalStartError(`FLOWPLANE_BUNDLE_PATH ${path} holds no .json flow exports`);
  const flows = await Promise.all(files.map((f) => readJson(join(path, f))));
  return { name: "bundle", versionTag: "", digest: bundleDigest(flows), digestOfFlows: true, flows };
}

/** The identity token, read again at every attempt: Kubernetes rotates projected tokens in place. */
export async function identityToken(source: Pick<Extract<BundleSource, { kind: "url" }>, "token">): Promise<string | null> {
  if (!source.token) return null;
  if ("value" in source.token) return source.token.value;
  try {
    return (await readFile(source.token.file, "utf8")).trim();
  } catch (err) {
    throw new Error(`cannot read the identity token file ${source.token.file}: ${(err as Error).message}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET the bundle with bounded retries and exponential back-off; the last failure ends start-up. */
export async function downloadBundle(source: Extract<BundleSource, { kind: "url" }>, log: Logger, signal?: AbortSignal): Promise<Bundle> {
  let lastError = "";
  for (let attempt = 0; attempt <= source.retries; attempt++) {
    if (attempt > 0) {
      const delay = Math.min(source.retryMaxMs, source.retryBaseMs * 2 ** (attempt - 1));
      log.warn({ attempt, of: source.retries + 1, delayMs: delay, reason: lastError }, "bundle download failed; retrying");
      await sleep(delay);
    }
    if (signal?.aborted) break;
    try {
      const bearer = await identityToken(source);
      const res = await fetch(source.url, { headers: { accept: "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, signal: AbortSignal.timeout(30_000) });
      if (!res.ok) {
        lastError = `HTTP ${res.status}`;
        continue;
      }
      return asBundle(await res.json(), "the downloaded bundle");
    } catch (err) {
      if (err instanceof FatalStartError) throw err;
      lastError = (err as Error).cause instanceof Error ? `${(err as Error).message}: ${((err as Error).cause as Error).message}` : (err as Error).message;
    }
  }
  throw new FatalStartError(`bundle download from ${new URL(source.url).origin} failed after ${source.retries + 1} attempts: ${lastError}`);
}

/** The flows must hash to the expected digest (and the version match) or the replica must not serve them. */
export function verifyBundle(bundle: Bundle, expectedDigest: string | null, expectedVersion: string | null): void {
  const actual = bundle.digestOfFlows ? bundle.digest : bundleDigest(bundle.flows);
  if (expectedDigest && actual !== expectedDigest) {
    throw new FatalStartError(`bundle digest mismatch: expected ${expectedDigest}, the flows hash to ${actual}; refusing to serve them`);
  }
  if (bundle.digest !== actual) {
    throw new FatalStartError(`bundle digest mismatch: the bundle says ${bundle.digest}, its flows hash to ${actual}; refusing to serve them`);
  }
  if (expectedVersion && bundle.versionTag && bundle.versionTag !== expectedVersion) {
    throw new FatalStartError(`bundle version mismatch: expected ${expectedVersion}, got ${bundle.versionTag}`);
  }
}
