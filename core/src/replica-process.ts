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
export const REPLICA_PROCESS_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_ARENA_MAX: "2" });
