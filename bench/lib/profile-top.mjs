// node bench/lib/profile-top.mjs <file.cpuprofile> [n]: self time by function and by package
// folder, the top n of each (where a control plane's CPU went).
import { readFileSync } from "node:fs";

const [file, n = "25"] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(p.nodes.map((x) => [x.id, x]));
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const fn = new Map();
const pkg = new Map();
let total = 0;
for (const [id, us] of dt) {
  const { callFrame: c } = byId.get(id);
  total += us;
  const name = `${c.functionName || "(anonymous)"} ${c.url.replace(/^file:\/\/.*?\/(node_modules|adapters|apps|core|tools)\//, "$1/")}:${c.lineNumber + 1}`;
  fn.set(name, (fn.get(name) ?? 0) + us);
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)|\/(adapters|apps|core|tools)\/([^/]+)/.exec(c.url);
  const where = m ? (m[1] ?? `${m[2]}/${m[3]}`) : c.url.startsWith("node:") ? "node:" : c.url ? "other" : c.functionName;
  pkg.set(where, (pkg.get(where) ?? 0) + us);
}
const show = (title, m) => {
  console.log(`${title} (of ${(total / 1e6).toFixed(1)} s sampled)`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`  ${(us / 1e6).toFixed(2).padStart(7)} s ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
};
show("self time by package", pkg);
show("self time by function", fn);
