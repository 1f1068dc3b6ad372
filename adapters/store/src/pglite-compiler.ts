import { setFlagsFromString } from "node:v8";

/**
 * Has V8 compile WebAssembly with its baseline compiler (Liftoff) only, for the rest of this
 * process. Meant for a process whose only WebAssembly of weight is PGlite's (the control plane
 * on its embedded default); call it before the first PGlite opens, since the flag is read when a
 * module is compiled.
 *
 * Why: by default V8 also recompiles PGlite's hot functions (9 MB of WebAssembly) with its
 * optimising compiler, in the background. That compilation's own memory stays with the process:
 * a PGlite that has opened and answered a few queries holds ~195 MiB of RSS with it and ~133
 * MiB without (the control plane: ~220 -> ~165 MiB, `npm run bench -- embedded`), and its
 * threads compete with the start on a small machine. Queries run on baseline code: through the
 * API (2,000 deployments, runs alternated) a get and a list page showed no difference beyond
 * the noise of a loaded machine (get p50 6.6-9.5 ms against 12.0-12.7 ms with both tiers).
 * JavaScript's own tiers are untouched; other processes (gateway workers, replicas) are not
 * affected.
 */
export function useBaselineWasmCompiler(): void {
  setFlagsFromString("--liftoff-only");
}
