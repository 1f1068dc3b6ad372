// `npm run bench [-- [--quick] name ...]`: runs the named benchmarks (all when none is named), each
// printing its own figures. Every comparison runs side by side in one process run, because
// these machines are noisy. --quick (or FLOWPLANE_BENCH_QUICK=1): tiny sizes, to check they run.
import { readdirSync } from "node:fs";

const here = new URL(".", import.meta.url);
const all = readdirSync(here).filter((f) => f.endsWith(".mjs") && f !== "run.mjs").map((f) => f.replace(/\.mjs$/, "")).sort();
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("--"));
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
