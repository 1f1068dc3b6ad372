import { explain, type Difference, type KnownDifference } from "./compare.js";

/**
 * The conformance report: per flow and per component, `match`, `known` (every difference is
 * listed in the known-differences file, with its reason), `mismatch` or `unsupported` (with
 * which engine cannot run it and why).
 */
export type Status = "match" | "known" | "mismatch" | "unsupported";

export interface ExplainedDifference extends Difference {
  case: string;
  /** The known-differences reason, when listed. */
  known?: string;
}

export interface ComponentReport {
  id: string;
  type: string;
  status: Status;
  reason?: string;
}

export interface FlowReport {
  fixture: string;
  flowId: string;
  name: string;
  status: Status;
  reason?: string;
  cases: string[];
  differences: ExplainedDifference[];
  components: ComponentReport[];
}

/** The worst status of a set of differences: any unexplained one makes a mismatch. */
export function statusOf(diffs: readonly ExplainedDifference[]): Status {
  if (diffs.length === 0) return "match";
  return diffs.every((d) => d.known !== undefined) ? "known" : "mismatch";
}

export function annotate(known: readonly KnownDifference[], fixture: string, caseName: string, diffs: readonly Difference[]): ExplainedDifference[] {
  return diffs.map((d) => {
    const k = explain(known, fixture, d);
    return { ...d, case: caseName, ...(k ? { known: k.reason } : {}) };
  });
}

/** Known-differences entries that explained nothing in this run: stale, worth removing. */
export function unusedKnown(known: readonly KnownDifference[], flows: readonly FlowReport[]): KnownDifference[] {
  const used = new Set(flows.flatMap((f) => f.differences.flatMap((d) => (d.known ? [d.known] : []))));
  return known.filter((k) => !used.has(k.reason));
}

export function summary(flows: readonly FlowReport[], lfxVersion: string): string {
  const count = (s: Status) => flows.filter((f) => f.status === s).length;
  const compared = flows.length - count("unsupported");
  const lines = [
    `conformance, native vs lfx ${lfxVersion}: ${compared} flows compared (${count("match")} match, ${count("known")} with known differences, ${count("mismatch")} mismatch), ${count("unsupported")} unsupported`,
  ];
  const width = Math.max(...flows.map((f) => f.fixture.length));
  for (const f of flows) {
    const comps = ["match", "known", "mismatch", "unsupported"]
      .map((s) => [s, f.components.filter((c) => c.status === s).length] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ");
    const detail = f.status === "unsupported" ? (f.reason ?? "") : `${f.differences.length} differences; components: ${comps}`;
    lines.push(`  ${f.fixture.padEnd(width)}  ${f.status.padEnd(11)}  ${detail.slice(0, 160)}`);
  }
  for (const f of flows) for (const d of f.differences.filter((x) => !x.known)) lines.push(`  MISMATCH ${f.fixture} [${d.case}] ${d.where} ${d.path} ${d.kind}: native=${d.native ?? "-"} lfx=${d.lfx ?? "-"}`);
  return lines.join("\n");
}
