/**
 * Kubernetes resource quantities (the subset used for CPU and memory): a decimal number with
 * an optional binary (Ki Mi Gi Ti Pi Ei) or decimal (n u m k M G T P E) suffix, or an exponent.
 * Parsed to a number so that a request can be compared with its limit.
 */
const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

const QUANTITY = /^([+]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/** The quantity's value in base units (cores, bytes), or null when the string is not a quantity. */
export function parseQuantity(q: string): number | null {
  const m = QUANTITY.exec(q.trim());
  if (!m || q.trim() !== q) return null;
  const base = Number(m[1]);
  if (m[3] !== undefined) return base * 10 ** Number(m[3]);
  return base * (SUFFIX[m[2] ?? ""] ?? 1);
}
