import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: tools/testkit/dist/fixtures.js is three levels below it. */
export const repoRoot: string = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * The shared Langflow fixtures live beside the repository (../shared/fixtures/langflow), not in
 * it: they are real exports shared by several checkouts. FLOWPLANE_FIXTURES overrides the folder.
 */
export function fixturesDir(): string {
  return process.env.FLOWPLANE_FIXTURES ?? join(repoRoot, "..", "shared", "fixtures", "langflow");
}

/** The path of a fixture; `name` with or without `.json`. */
export function fixturePath(name: string): string {
  return join(fixturesDir(), name.endsWith(".json") ? name : `${name}.json`);
}

/** A fixture's parsed JSON (a fresh copy every call, so tests may mutate it). */
export function loadFixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath(name), "utf8")) as Record<string, unknown>;
}

/**
 * The 27 starter projects Langflow 1.13.0 ships, as scripts/fetch-starters.sh caches them
 * (~/.cache/flowplane/starters-1.13.0; never copied into the repository). FLOWPLANE_STARTERS
 * overrides the folder. Null when they are not there (tests skip with a reason, except in CI).
 */
export function startersDir(): string | null {
  const dir = process.env.FLOWPLANE_STARTERS ?? join(homedir(), ".cache", "flowplane", "starters-1.13.0");
  return existsSync(dir) ? dir : null;
}

/** A reason to skip a starters test, or false; never skips in CI (CI=true), where .ci/run fetches them. */
export function startersSkipReason(): string | false {
  if (process.env.CI === "true" || startersDir()) return false;
  return "the Langflow 1.13 starter projects are not fetched: run scripts/fetch-starters.sh (or set FLOWPLANE_STARTERS)";
}

/** Every starter project by name (the file name without .json), sorted, each a fresh parsed copy. */
export function loadStarters(): { name: string; raw: Record<string, unknown> }[] {
  const dir = startersDir();
  if (!dir) throw new Error("the Langflow starter projects are missing: run scripts/fetch-starters.sh");
  return readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => ({ name: f.slice(0, -5), raw: JSON.parse(readFileSync(join(dir, f), "utf8")) as Record<string, unknown> }));
}
