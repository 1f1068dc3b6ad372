import { readFileSync } from "node:fs";
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
