/**
 * The clock of durations that bound something in this process: a cached key's life (the 4 s a
 * revoked key may still be admitted), a token bucket's refill, a key entry's age in HAProxy's
 * maps. Monotonic, so a step of the machine's wall clock (NTP, a VM resumed, an operator's
 * `date`) neither stretches nor cuts them: stepped back an hour, `Date.now` kept a revoked key
 * admitted for that hour. Timestamps that leave the process (records, logs, headers) stay on the
 * wall clock.
 */
export const monotonicNow = (): number => performance.now();
