// Storage benchmark (issue 2): 1,000 bundle versions and 10,000 deployment records, then the
// p50/p99 latency of a get and of one list page through the real HTTP API on loopback, on
// PGlite and on PostgreSQL side by side. Goal: get p99 < 20 ms, list page p99 < 100 ms.
// Before/after in one run: FLOWPLANE_BENCH_BASELINE=<another checkout, built> adds, per engine, a
// database of that checkout's own (its PGlite template, its migrations) seeded alike and served
// by its store and control plane; its samples are taken in the same rounds, the order of each
// pair alternating round by round.
// Sizes: BENCH_DEPLOYMENTS, BENCH_VERSIONS, BENCH_SAMPLES (per figure and target).
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DEFAULT_RESOURCES, DEFAULT_RUNTIME, createDeploymentCredentials, createSecretBox, initialStatus, prepareVersion } from "@flowplane/core";
import { createPgliteClient, createPostgresClient, createSqlStore, createTestDatabase, useBaselineWasmCompiler } from "@flowplane/store";
import { createControlPlane } from "../apps/server/dist/control-plane.js";
import { fixturesDir } from "@flowplane/testkit";

import { QUICK, median, size } from "./lib/common.mjs";

const VERSIONS = Number(process.env.BENCH_VERSIONS ?? size(1000, 100));
const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? size(10000, 100));
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? size(500, 20));
/** Each figure's samples are split into rounds, PGlite and PostgreSQL taking turns. */
const ROUNDS = size(5, 2);
const BASELINE = process.env.FLOWPLANE_BENCH_BASELINE ? `${process.env.FLOWPLANE_BENCH_BASELINE.replace(/\/$/, "")}/` : null;
/** The code a target runs: this checkout's, or the baseline's (its store, schema and API). */
const current = { createPgliteClient, createSqlStore, createControlPlane };
const baseline = BASELINE ? {
  ...(await import(pathToFileURL(`${BASELINE}adapters/store/dist/index.js`).href)),
  createControlPlane: (await import(pathToFileURL(`${BASELINE}apps/server/dist/control-plane.js`).href)).createControlPlane,
} : null;
const flow = JSON.parse(readFileSync(join(fixturesDir(), "memory-chatbot.json"), "utf8"));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (ms) => `${ms.toFixed(2)} ms`;

async function seed(store) {
  const t0 = performance.now();
  const projects = [];
  for (let i = 0; i < 20; i++) projects.push((await store.createProject({ id: randomUUID(), name: `bench-${i}` })).id);
  const bundles = 100;
  const perBundle = Math.ceil(VERSIONS / bundles);
  for (let b = 0; b < bundles; b++) {
    for (let v = 0; v < perBundle && b * perBundle + v < VERSIONS; v++) {
      await store.insertVersion(prepareVersion({ name: `bundle-${b}`, versionTag: `v${v}`, accessLevel: "project", allowedProjects: [projects[b % 20]], flows: [flow] }, "bench"));
    }
  }
  const credentials = createDeploymentCredentials(createSecretBox(randomBytes(32)));
  const ids = [];
  const now = new Date().toISOString();
  for (let i = 0; i < DEPLOYMENTS; i++) {
    const id = randomUUID();
    ids.push({ id, projectId: projects[i % 20] });
    await store.createDeployment({
      id, projectId: projects[i % 20], displayName: `d ${i}`, resourceName: `d-${i}-${id.slice(0, 6)}`, appId: `a${i}${id.slice(0, 6)}`,
      routes: { http: `h${i}${id.slice(0, 6)}`, mcp: `m${i}${id.slice(0, 6)}` }, bundle: { name: `bundle-${i % 100}`, version: "v0", digest: "sha256:x" },
      networkAccess: "public", runtime: DEFAULT_RUNTIME, parameters: {}, parameterOverrides: {}, credentialNames: ["OPENAI_API_KEY"],
      resources: DEFAULT_RESOURCES, generation: 1, revision: 1, status: initialStatus(), createdAt: now, updatedAt: now, createdBy: "bench",
      deletionRequestedAt: null, deletedAt: null,
    }, credentials.seal(id, { OPENAI_API_KEY: "x" }), { time: now, type: "Normal", reason: "Created", message: "bench" });
  }
  return { projects, ids, seconds: (performance.now() - t0) / 1000 };
}

/** Seeds a store with `code` and serves it over HTTP; `sample(name, from, to)` times requests `from`..`to` of a figure. */
async function setup(label, sql, code) {
  const store = code.createSqlStore({ sql });
  await store.migrate();
  const { projects, ids, seconds } = await seed(store);
  const cp = code.createControlPlane({ store, secretKey: randomBytes(32), urls: { public: "http://x", private: "http://y" }, bodyLimit: 1 << 20, logger: false });
  const owner = await store.createUser({ id: randomUUID(), name: "bench", kind: "human", orgOwner: true });
  const key = (await cp.identity.issueKey(owner, 1)).key;
  const url = await cp.app.listen({ host: "127.0.0.1", port: 0 });
  const get = async (path) => {
    const t = performance.now();
    const r = await fetch(url + path, { headers: { "x-access-key": key } });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`${label} ${path}: ${r.status}`);
    return performance.now() - t;
  };
  // warm-up
  for (let i = 0; i < Math.min(50, ids.length); i++) await get(`/api/v1/projects/${ids[i].projectId}/deployments/${ids[i].id}`);
  const paths = {
    "get deployment": (i) => { const d = ids[(i * 7919) % ids.length]; return `/api/v1/projects/${d.projectId}/deployments/${d.id}`; },
    "get bundle version": (i) => `/api/v1/bundles/bundle-${i % 100}/versions/v${i % Math.max(1, Math.floor(VERSIONS / 100))}`,
    "list deployments (page of 50)": (i) => `/api/v1/projects/${projects[i % 20]}/deployments?limit=50`,
    "list bundles (page of 50)": () => "/api/v1/bundles?limit=50",
  };
  return {
    label, seconds, samples: Object.fromEntries(Object.keys(paths).map((k) => [k, []])),
    figures: Object.keys(paths),
    async sample(name, from, to) {
      for (let i = from; i < to; i++) this.samples[name].push(await get(paths[name](i)));
    },
    async close() {
      await cp.app.close();
      await sql.close();
    },
  };
}

export async function main() {
  console.log(`storage benchmark: ${VERSIONS} bundle versions, ${DEPLOYMENTS} deployments, ${SAMPLES} sequential requests per figure in ${ROUNDS} rounds, the stores taking turns (real HTTP on loopback)${QUICK ? "  [quick mode: sizes too small to mean anything]" : ""}`);
  if (BASELINE) console.log(`baseline: ${BASELINE}, on databases of its own seeded alike, in the same rounds`);
  // Requests go one at a time (the latency of one request is the figure), so a load generator
  // would add nothing; the client is the same for both stores.
  // PGlite compiled as the control plane on its embedded default compiles it (main.ts); the
  // flag touches WebAssembly only, so the PostgreSQL side (pg, in JavaScript) is unaffected.
  useBaselineWasmCompiler();
  // Per engine, this checkout's target, then the baseline's (its baselineOf: this checkout's).
  const pairs = [];
  const dbs = [];
  const engines = [["PGlite", (code) => code.createPgliteClient()]];
  if (process.env.FLOWPLANE_TEST_DATABASE_URL) {
    engines.push(["PostgreSQL", async () => {
      const db = await createTestDatabase();
      dbs.push(db);
      return createPostgresClient(db.url);
    }]);
  } else {
    console.log("PostgreSQL: skipped (run through scripts/with-postgres.sh, as `npm run bench` does, or set FLOWPLANE_TEST_DATABASE_URL)");
  }
  try {
    for (const [label, open] of engines) {
      const pair = [await setup(label, await open(current), current)];
      pairs.push(pair);
      if (baseline) pair.push({ ...(await setup(`${label} (baseline)`, await open(baseline), baseline)), baselineOf: pair[0] });
    }
    const stores = pairs.flat();
    const per = Math.ceil(SAMPLES / ROUNDS);
    for (const name of stores[0].figures) {
      for (let r = 0; r < ROUNDS; r++) {
        for (const pair of pairs) for (const t of r % 2 ? [...pair].reverse() : pair) await t.sample(name, r * per, Math.min(SAMPLES, (r + 1) * per));
      }
    }
    for (const s of stores) {
      console.log(`\n${s.label} (seeded in ${s.seconds.toFixed(1)} s)`);
      for (const [name, xs] of Object.entries(s.samples)) {
        const [p50, p99] = [pct(xs, 50), pct(xs, 99)];
        const goal = name.startsWith("get") ? 20 : 100;
        const vs = s.baselineOf
          ? `  this branch's p50 ${(pct(s.baselineOf.samples[name], 50) / p50).toFixed(2)}x, p99 ${(pct(s.baselineOf.samples[name], 99) / p99).toFixed(2)}x the baseline's`
          : s === stores[0] ? "" : `  p50 ${(p50 / median(stores[0].samples[name])).toFixed(2)}x PGlite's`;
        console.log(`  ${name.padEnd(32)} p50 ${fmt(p50).padStart(10)}  p99 ${fmt(p99).padStart(10)}  goal p99 < ${goal} ms: ${p99 < goal ? "met" : "MISSED"}${vs}`);
      }
    }
  } finally {
    for (const t of pairs.flat()) await t.close();
    for (const db of dbs) await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
