/**
 * What every driver adds to a replica's process environment beside the runtime's own settings,
 * for the process itself rather than the flow (the MALLOC_ prefix is reserved, so no parameter
 * can override it).
 *
 * MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own malloc arena (up to eight
 * per core), and freed memory stays in the arena that held it. A replica's V8 helper threads
 * (GC, compiler) and libuv's pool allocate from arenas of their own, so after a burst of load a
 * replica kept a few MiB of free heap in per-thread arenas. Two arenas measured 2-3 MiB less RSS
 * after the runtime bench's load, with the same CPU time per request (docs/contracts.md, "What a
 * replica costs"). musl ignores it.
 */
/**
 * Node's options for a replica's runtime process, wherever one starts: serve.ts's default replica
 * command (both drivers), the runtime's test processes (test-process.ts) and the benches
 * (bench/lib/common.mjs); the runtime image's entrypoint repeats them (a Dockerfile cannot
 * import). V8's young generation is capped at 2 MiB per semi-space (16 by default), V8 favours
 * size over speed (`--optimize-for-size`: the old generation grown and collected in smaller
 * steps) and runs its background work (GC, compiler) on one thread instead of four. Measured: a
 * replica holds 4-8 MiB less after load (young generation, old-space garbage, thread stacks,
 * per-thread malloc arenas) for 0-22% more CPU per echo run (docs/contracts.md, "Memory after
 * load"): replicas share machines and mostly wait on a model, so memory is the scarcer.
 */
export const REPLICA_NODE_FLAGS: readonly string[] = Object.freeze(["--max-semi-space-size=2", "--optimize-for-size", "--v8-pool-size=1"]);

export const REPLICA_PROCESS_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_ARENA_MAX: "2" });
