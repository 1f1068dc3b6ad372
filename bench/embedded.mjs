// Embedded-store benchmark (issue 16, item 3): the real `flowplane-server` process on its
// embedded default (PGlite in the data folder) next to the same server on PostgreSQL, taking
// turns (A B A B ...) over several rounds. Per round and store:
//   - first start: spawn -> the banner, on an empty data folder / an empty database;
//   - restart: spawn -> the banner again on the same data;
//   - idle RSS: after the first start and after the restart, 13 s with nothing to do; idle CPU
//     after the restart. V8's memory reducer gives back what the start left in the heap about
//     8 s after allocation slows (the PostgreSQL-backed control plane: about 90 -> 82 MiB), so
//     the RSS 1 s after each start is printed beside the idle figure, not judged by the goal.
// Goals: idle RSS <= 1.5x and first start <= 2x the PostgreSQL-backed control plane.
// Needs FLOWPLANE_TEST_DATABASE_URL (`npm run bench` runs under scripts/with-postgres.sh);
// without it only PGlite's own figures are printed. It starts and stops only its own servers.
// Before/after in one run: FLOWPLANE_BENCH_BASELINE=<another checkout, built> adds that
// checkout's control plane on PGlite as a third target, in the same turns.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createTestDatabase } from "@flowplane/store";
import { startServer } from "@flowplane/testkit";
import { QUICK, fmt, median, size, sleep } from "./lib/common.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? size(3, 1));
const IDLE_MS = size(12_000, 1_000);
const BASELINE = process.env.FLOWPLANE_BENCH_BASELINE ? `${process.env.FLOWPLANE_BENCH_BASELINE.replace(/\/$/, "")}/` : null;
/** The baseline checkout's own testkit starts the baseline's own server. */
const baselineStart = BASELINE ? (await import(pathToFileURL(`${BASELINE}tools/testkit/dist/index.js`).href)).startServer : null;

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
/** CPU time (user + system) of one process so far, in ms (clock ticks of 10 ms). */
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
};

async function measure(store) {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-bench-embedded-"));
  const db = store === "PostgreSQL" ? await createTestDatabase() : undefined;
  // No replicas are started: the control plane alone, idle, is what is measured.
  const env = { FLOWPLANE_LOG_LEVEL: "warn", ...(db ? { DATABASE_URL: db.url } : {}) };
  const start = store === "PGlite (baseline)" ? baselineStart : startServer;
  try {
    let t0 = performance.now();
    let server = await start(dir, env);
    const firstMs = performance.now() - t0;
    await sleep(1_000);
    const firstEarlyRss = rssMiB(server.child.pid);
    await sleep(IDLE_MS);
    const firstRss = rssMiB(server.child.pid); // what a user's first start keeps once idle
    await server.stop();
    t0 = performance.now();
    server = await start(dir, env);
    const restartMs = performance.now() - t0;
    try {
      await sleep(1_000); // what the start itself allocated settles
      const earlyRss = rssMiB(server.child.pid);
      const cpu0 = cpuMs(server.child.pid);
      await sleep(IDLE_MS);
      const idleCpu = (cpuMs(server.child.pid) - cpu0) / IDLE_MS; // share of one core
      return { firstMs, firstEarlyRss, firstRss, restartMs, earlyRss, rss: rssMiB(server.child.pid), idleCpu };
    } finally {
      await server.stop();
    }
  } finally {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function main() {
  const stores = ["PGlite", ...(BASELINE ? ["PGlite (baseline)"] : []), ...(process.env.FLOWPLANE_TEST_DATABASE_URL ? ["PostgreSQL"] : [])];
  console.log(`embedded store: the control plane on ${stores.join(" and ")}, ${ROUNDS} round(s), taking turns${QUICK ? "  [quick mode]" : ""}`);
  if (!process.env.FLOWPLANE_TEST_DATABASE_URL) console.log("PostgreSQL: skipped (run through scripts/with-postgres.sh, as `npm run bench` does)");
  const results = Object.fromEntries(stores.map((s) => [s, []]));
  for (let r = 0; r < ROUNDS; r++) for (const s of stores) results[s].push(await measure(s));

  const spread = (xs, unit, d = 0) => `${fmt(median(xs), d)} ${unit} (${fmt(Math.min(...xs), d)}..${fmt(Math.max(...xs), d)})`;
  for (const s of stores) {
    const xs = results[s];
    console.log(`  ${s.padEnd(18)} first start ${spread(xs.map((x) => x.firstMs), "ms")}, RSS 1 s after it ${spread(xs.map((x) => x.firstEarlyRss), "MiB")}, idle ${spread(xs.map((x) => x.firstRss), "MiB")}; ` +
      `restart ${spread(xs.map((x) => x.restartMs), "ms")}, RSS 1 s after it ${spread(xs.map((x) => x.earlyRss), "MiB")}, idle RSS ${spread(xs.map((x) => x.rss), "MiB")}, idle CPU ${spread(xs.map((x) => x.idleCpu * 100), "% of a core", 2)}`);
  }
  if (!process.env.FLOWPLANE_TEST_DATABASE_URL) return;
  const m = (s, k) => median(results[s].map((x) => x[k]));
  for (const s of stores.filter((x) => x !== "PostgreSQL")) {
    const rssRatio = Math.max(m(s, "rss") / m("PostgreSQL", "rss"), m(s, "firstRss") / m("PostgreSQL", "firstRss"));
    const startRatio = m(s, "firstMs") / m("PostgreSQL", "firstMs");
    console.log(`  ${s} / PostgreSQL: idle RSS ${rssRatio.toFixed(2)}x, the worse of first start and restart (goal <= 1.5x: ${rssRatio <= 1.5 ? "met" : "MISSED"}), ` +
      `first start ${startRatio.toFixed(2)}x (goal <= 2x: ${startRatio <= 2 ? "met" : "MISSED"}), restart ${(m(s, "restartMs") / m("PostgreSQL", "restartMs")).toFixed(2)}x`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
