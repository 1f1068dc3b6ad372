import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The lfx release this engine is written against: its HTTP surface (`/api/v2/workflows` stream
 * events, `/flows/upload/`, `/health`) is what the adapter speaks. Must equal the `lfx==` pin in
 * lfx-requirements.txt (a test checks), which scripts/setup-lfx.sh installs.
 */
export const LFX_VERSION = "1.13.0";

/** Where scripts/setup-lfx.sh puts the executable. */
export function defaultLfxBin(home: string = homedir()): string {
  return join(home, ".cache", "flowplane", `lfx-${LFX_VERSION}`, "bin", "lfx");
}

/** The lfx executable to run: an explicit path (FLOWPLANE_LFX_BIN) wins over the default install. */
export function resolveLfxBin(explicit?: string | null): string {
  return explicit && explicit.length > 0 ? explicit : defaultLfxBin();
}

/** The same, or null when nothing is installed there (tests use it to decide whether to skip). */
export function findLfxBin(explicit?: string | null): string | null {
  const bin = resolveLfxBin(explicit);
  return existsSync(bin) ? bin : null;
}

/** Why the lfx engine cannot start, phrased for an operator. */
export function missingLfxMessage(bin: string): string {
  return `the lfx executable ${bin} does not exist: run scripts/setup-lfx.sh (installs lfx ${LFX_VERSION} under ~/.cache/flowplane/) or set FLOWPLANE_LFX_BIN`;
}

/**
 * For test files: a reason to skip the lfx tests when lfx is not installed, or false. Never skips
 * in CI (CI=true): there a missing lfx must fail the suite, not hide it.
 */
export function lfxSkipReason(env: Readonly<Record<string, string | undefined>>): string | false {
  if (env.CI === "true" || findLfxBin(env.FLOWPLANE_LFX_BIN)) return false;
  return `lfx is not installed at ${resolveLfxBin(env.FLOWPLANE_LFX_BIN)}: run scripts/setup-lfx.sh (or set FLOWPLANE_LFX_BIN)`;
}
