// Whether the runtime's bundle (dist/bundle/, scripts/bundle-runtime.mjs) is newer than the last
// TypeScript build of the runtime and of every package bundled into it. flowplane-runtime.js runs
// the bundle only then (stale code must never run); the runtime benchmark refuses to measure a
// stale one, which would time the unbundled dist/main.js instead (a slower start, more memory).
import { statSync } from "node:fs";

const mtime = (path) => statSync(new URL(path, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? 0;
const INPUTS = ["../tsconfig.tsbuildinfo", "../../../core/tsconfig.tsbuildinfo", "../../../adapters/engine-native/tsconfig.tsbuildinfo", "../../../adapters/engine-lfx/tsconfig.tsbuildinfo", "../../../adapters/logging/tsconfig.tsbuildinfo"];

export function bundleIsFresh() {
  const bundle = mtime("../dist/bundle/main.js");
  return bundle > 0 && bundle >= Math.max(...INPUTS.map(mtime));
}
