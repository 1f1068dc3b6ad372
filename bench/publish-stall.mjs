// One team's large publish against everyone else's API calls: the real `flowplane-server`
// (embedded defaults, PGlite; and on PostgreSQL too when FLOWPLANE_TEST_DATABASE_URL is set, as
// `npm run bench` sets it) is sent a publish of the largest body allowed (10 MiB: copies of a
// real Langflow export, each with its own id) while another caller asks GET /api/v1/me back to
// back. Printed per store: how long the publish took and the slowest GET /me answered meanwhile
// (an idle GET /me takes about a millisecond: the rest is the time the control plane's event
// loop, or its one PGlite connection, was held by the publish). The gateway runs in the control
// plane's process (FLOWPLANE_GATEWAY_WORKERS=0): the API is served there in either case.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createTestDatabase } from "@flowplane/store";
import { apiCaller, fixturePath, startServer } from "@flowplane/testkit";
import { QUICK, fmt, median, size } from "./lib/common.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? size(5, 1));
const LIMIT = 10 * 1024 * 1024;

/** The largest publish body under the default limit: copies of vector-store-rag (about 230 KB each). */
function bigBody(name) {
  const flow = JSON.parse(readFileSync(fixturePath("vector-store-rag"), "utf8"));
  const flows = [];
  const body = () => JSON.stringify({ name, versionTag: "1", accessLevel: "global", flows });
  for (let i = 0; i < (QUICK ? 2 : 50); i++) {
    flows.push({ ...flow, id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, name: `rag ${i}` });
    if (Buffer.byteLength(body()) > LIMIT) {
      flows.pop();
      break;
    }
  }
  return body();
}

async function round(server, key, i) {
  const me = apiCaller(server.url, key);
  const body = bigBody(`big-${i}`);
  await me("GET", "/me");
  let done = false;
  const waits = [];
  const poll = (async () => {
    while (!done) {
      const t = performance.now();
      const r = await me("GET", "/me");
      if (r.status !== 200) throw new Error(`GET /api/v1/me: ${r.status} ${r.text}`);
      waits.push(performance.now() - t);
    }
  })();
  const t0 = performance.now();
  const r = await fetch(`${server.url}/api/v1/bundles`, { method: "POST", headers: { "x-access-key": key, "content-type": "application/json" }, body });
  const text = await r.text();
  const publishMs = performance.now() - t0;
  done = true;
  await poll;
  if (r.status !== 201) throw new Error(`publish: ${r.status} ${text.slice(0, 300)}`);
  return { publishMs, worstMs: Math.max(...waits), calls: waits.length, bytes: Buffer.byteLength(body) };
}

async function measure(store) {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-bench-publish-"));
  const db = store === "PostgreSQL" ? await createTestDatabase() : undefined;
  const server = await startServer(dir, { FLOWPLANE_GATEWAY_WORKERS: "0", ...(db ? { DATABASE_URL: db.url } : {}) });
  try {
    const key = readFileSync(join(dir, "admin.key"), "utf8").trim();
    const out = [];
    for (let i = 0; i < ROUNDS; i++) out.push(await round(server, key, i));
    return out;
  } finally {
    await server.stop();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function main() {
  const stores = ["PGlite", ...(process.env.FLOWPLANE_TEST_DATABASE_URL ? ["PostgreSQL"] : [])];
  console.log(`publish stall: a 10 MiB publish beside back-to-back GET /api/v1/me, ${ROUNDS} round(s) per store${QUICK ? "  [quick mode]" : ""}`);
  if (stores.length === 1) console.log("PostgreSQL: skipped (run through scripts/with-postgres.sh, as `npm run bench` does)");
  for (const s of stores) {
    const xs = await measure(s);
    const spread = (k) => `${fmt(median(xs.map((x) => x[k])))} ms (${fmt(Math.min(...xs.map((x) => x[k])))}..${fmt(Math.max(...xs.map((x) => x[k])))})`;
    console.log(`  ${s.padEnd(10)} ${(xs[0].bytes / 1048576).toFixed(1)} MiB publish: ${spread("publishMs")}; slowest GET /me meanwhile ${spread("worstMs")}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
