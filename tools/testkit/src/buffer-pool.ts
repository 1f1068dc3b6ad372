/**
 * Bytes `fn` takes from Node's shared Buffer pool (0 for none): for the checks that must not,
 * on paths run per request (a short Buffer made from a string is a slice of the pool, which under
 * load is promoted and kept until a full collection; core's replica-access.ts says more).
 * Two 1-byte Buffers made from strings are consecutive slices of the pool, 8 bytes apart, unless
 * something took from it between them; or the pool rotated between them because the first took
 * its last slot, so a rotation is tried once more, on the fresh pool (a `fn` that takes from the
 * pool shows there too). Infinity when it rotated twice (`fn` took more than a pool's worth).
 */
export function poolBytesTakenBy(fn: () => void): number {
  for (let attempt = 0; attempt < 2; attempt++) {
    const before = Buffer.from("a");
    fn();
    const after = Buffer.from("b");
    if (after.buffer === before.buffer) return after.byteOffset - before.byteOffset - 8;
  }
  return Number.POSITIVE_INFINITY;
}
