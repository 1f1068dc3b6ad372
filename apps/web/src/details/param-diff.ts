import type { Parameter } from "@flowplane/core/api";

export interface ParamChange {
  name: string;
  change: "added" | "removed" | "kind" | "default";
  from: string;
  to: string;
}

const describe = (p: Parameter | undefined): string =>
  !p ? "—" : p.kind === "credential" ? "credential" : p.default !== undefined ? `default "${p.default}"` : "no default";

/** How two versions' parameters differ: what a version change adds, removes or changes. */
export function diffParameters(from: Parameter[], to: Parameter[]): ParamChange[] {
  const a = new Map(from.map((p) => [p.name, p]));
  const b = new Map(to.map((p) => [p.name, p]));
  const out: ParamChange[] = [];
  for (const name of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(name);
    const y = b.get(name);
    const entry = (change: ParamChange["change"]) => out.push({ name, change, from: describe(x), to: describe(y) });
    if (!x) entry("added");
    else if (!y) entry("removed");
    else if (x.kind !== y.kind) entry("kind");
    else if (x.default !== y.default) entry("default");
  }
  return out;
}
