// `npm run bench [-- [--quick] name ... [--option value]]`: runs the named benchmarks (all when none is named), each
// printing its own figures. Every comparison runs side by side in one process run, because
// these machines are noisy. --quick (or FLOWPLANE_BENCH_QUICK=1): tiny sizes, to check they run.
import { readdirSync } from "node:fs";

const here = new URL(".", import.meta.url);
const all = readdirSync(here).filter((f) => f.endsWith(".mjs") && f !== "run.mjs").map((f) => f.replace(/\.mjs$/, "")).sort();
// Benchmark names; not the options after them: `--quick` and `--starters-only` stand alone, any
// other `--name` takes the next word as its value (`-- fleet --count 100`), and a bare number is a
// benchmark's own size argument (`-- gateway 10`).
const FLAGS = new Set(["--quick", "--starters-only"]);
const wanted = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith("--")) {
    if (!FLAGS.has(a) && !a.includes("=")) i++;
  } else if (!/^\d+(\.\d+)?$/.test(a)) wanted.push(a);
}
if (process.argv.includes("--quick")) process.env.FLOWPLANE_BENCH_QUICK = "1";
for (const w of wanted) if (!all.includes(w)) {
  console.error(`unknown benchmark "${w}"; there are: ${all.join(", ")}`);
  process.exit(2);
}
for (const name of wanted.length ? wanted : all) {
  console.log(`\n##### bench/${name}.mjs`);
  const mod = await import(new URL(`./${name}.mjs`, here));
  if (typeof mod.main === "function") await mod.main();
}
// Every benchmark stops what it started; exit even if a library left a handle open.
process.exit(0);
