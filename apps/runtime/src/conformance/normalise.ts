/**
 * The one normalisation the equivalence suite applies before comparing two engines' answers
 * byte for byte: values that differ by nature between any two runs, whatever the engine.
 * - `id`, `run_id`: a stored message's id and the run's id (fresh UUIDs each run);
 * - `timestamp`: when a message was made;
 * - `duration`, `timedelta`, `build_duration`: how long something took.
 * Each such key keeps its place and its JSON type class (null stays null; any other value
 * becomes "<id>", "<time>" or 0), so a value present on one side only still differs. Nothing
 * else is touched: texts, keys, order and every other value must be equal.
 */
const IDS = new Set(["id", "run_id"]);
const TIMES = new Set(["timestamp"]);
const DURATIONS = new Set(["duration", "timedelta", "build_duration"]);

export function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || typeof v === "object") out[k] = normalise(v);
    else if (IDS.has(k)) out[k] = "<id>";
    else if (TIMES.has(k)) out[k] = "<time>";
    else if (DURATIONS.has(k)) out[k] = 0;
    else out[k] = v;
  }
  return out;
}

/** The first place two normalised JSON texts differ, with some context either side (for reports). */
export function firstDifference(a: string, b: string, context = 120): string | null {
  if (a === b) return null;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - context);
  return `at ${i}: native …${a.slice(from, i + context)}… lfx …${b.slice(from, i + context)}…`;
}
