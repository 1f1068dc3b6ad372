import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { applyModelChoices, modelChoiceName, parseFlow, type EngineRunRequest, type Flow } from "@flowplane/core";
import { loadStarters, startersSkipReason, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { NativeEngine } from "./engine.js";
import { AllowedHosts } from "./outbound.js";
import { databaseUrlProblem, pgQuery, resolveDatabaseHost } from "./sql-client.js";

// The SQL Database component (SaaS Pricing's tool) against a real PostgreSQL server on loopback
// (scripts/with-postgres.sh sets FLOWPLANE_TEST_DATABASE_URL; CI must have it): the fake model
// calls the tool ([[tool:run_sql_query {...}]]) and answers with what the tool gave back.
const dbUrl = process.env.FLOWPLANE_TEST_DATABASE_URL;
if (!dbUrl && process.env.CI) throw new Error("FLOWPLANE_TEST_DATABASE_URL is not set: CI must run the SQL suite against PostgreSQL (see .ci/run)");
const skip = startersSkipReason() || (dbUrl ? false : "FLOWPLANE_TEST_DATABASE_URL is not set (run under scripts/with-postgres.sh)");
const table = `fp_sql_${randomBytes(4).toString("hex")}`;
let fake: FakeOpenAI;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

before(async () => {
  if (skip) return;
  fake = await startFakeOpenAI();
  await admin(`CREATE TABLE ${table} (id int PRIMARY KEY, plan text, price numeric(6,2), starts date); INSERT INTO ${table} VALUES (1, 'Basic', 9.90, '2026-01-01'), (2, 'Pro', 29.00, NULL)`);
});
after(async () => {
  if (skip) return;
  await admin(`DROP TABLE IF EXISTS ${table}`);
  await fake.close();
});

async function saas(privateHosts: string[]): Promise<{ engine: NativeEngine; flow: Flow; sqlId: string }> {
  const raw = loadStarters().find((s) => s.name === "SaaS Pricing")?.raw;
  assert.ok(raw);
  let flow = parseFlow(raw);
  flow = applyModelChoices(flow, Object.fromEntries(flow.nodes.map((n) => [modelChoiceName(n.id), "OpenAI/gpt-4o-mini"])));
  const engine = new NativeEngine({ privateHosts });
  await engine.load([flow], { OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: "sk-sql" });
  const sqlId = flow.nodes.find((n) => n.type === "SQLComponent")?.id ?? "";
  return { engine, flow, sqlId };
}

const call = (query: string, sqlId: string, url = dbUrl): EngineRunRequest => ({
  inputValue: `[[tool:run_sql_query ${JSON.stringify({ query })}]]`,
  inputType: "chat",
  outputType: "chat",
  sessionId: `sql-${randomBytes(3).toString("hex")}`,
  tweaks: { [sqlId]: { database_url: url } },
});

test("SQL Database as the SaaS Pricing agent's tool: the query's rows reach the model, one object per row, columns in order", { skip }, async () => {
  const { engine, flow, sqlId } = await saas(["127.0.0.1", "localhost", "::1"]);
  const result = await engine.run(flow.id, call(`SELECT id, plan, price, starts FROM ${table} ORDER BY id`, sqlId));
  const answer = result.chat?.text ?? "";
  assert.match(answer, /^Tool run_sql_query says: /);
  const rows = JSON.parse(answer.slice("Tool run_sql_query says: ".length)) as Record<string, unknown>[];
  assert.deepEqual(rows.map((r) => Object.keys(r)), [["id", "plan", "price", "starts"], ["id", "plan", "price", "starts"]]);
  assert.deepEqual(rows.map((r) => [r.id, r.plan, r.price]), [[1, "Basic", "9.90"], [2, "Pro", "29.00"]]);
  assert.equal(rows[1]?.starts, null);
  assert.match(String(rows[0]?.starts), /^2026-01-0[12]T/, "a date as ISO text");
  // Several statements: the last one's rows, as SQLAlchemy's cursor shows.
  const two = await engine.run(flow.id, call(`SELECT 1 AS a; SELECT plan FROM ${table} WHERE id = 2`, sqlId));
  assert.equal(two.chat?.text, 'Tool run_sql_query says: [{"plan":"Pro"}]');
  await engine.close();
});

test("SQL Database: a failing query or a refused host is told to the model, not to the caller", { skip }, async () => {
  const { engine, flow, sqlId } = await saas(["127.0.0.1", "localhost", "::1"]);
  const bad = await engine.run(flow.id, call(`SELECT nope FROM ${table}`, sqlId));
  assert.match(bad.chat?.text ?? "", /^Tool run_sql_query says: Error: An error occurred while running the SQL Query: column "nope" does not exist/);
  await engine.close();
  // Without the operator's allowance the loopback server is refused before any connection.
  const strict = await saas([]);
  const refused = await strict.engine.run(strict.flow.id, call("SELECT 1", strict.sqlId));
  assert.match(refused.chat?.text ?? "", /loopback or private network/);
  const sqlite = await strict.engine.run(strict.flow.id, call("SELECT 1", strict.sqlId, "sqlite:///etc/passwd"));
  assert.match(sqlite.chat?.text ?? "", /speaks PostgreSQL only/);
  await strict.engine.close();
});

test("database URLs: PostgreSQL only; loopback, private and link-local hosts refused unless allowed", () => {
  const none = new AllowedHosts([]);
  assert.equal(databaseUrlProblem("postgresql://u:p@db.example.com:5432/x", none), null);
  assert.equal(databaseUrlProblem("postgresql+psycopg2://u@db.example.com/x", none), null);
  for (const host of ["127.0.0.1", "localhost", "10.1.2.3", "192.168.0.1", "172.20.0.1", "169.254.169.254", "[::1]", "[fd00::1]", "100.64.0.1"]) {
    assert.match(databaseUrlProblem(`postgresql://u@${host}/x`, none) ?? "", /loopback or private/, host);
  }
  // A name is no address: one that starts as a private IPv6 prefix would is checked by what it resolves to.
  assert.equal(databaseUrlProblem("postgresql://u@fdic.example.com/x", none), null);
  assert.equal(databaseUrlProblem("postgresql://u@127.0.0.1/x", new AllowedHosts(["127.0.0.1"])), null);
  assert.match(databaseUrlProblem("mysql://u@db.example.com/x", none) ?? "", /PostgreSQL only/);
  assert.match(databaseUrlProblem("not a url", none) ?? "", /not a URL/);
});

test("FLOWPLANE_MODEL_HOSTS means for SQL what it means for the HTTP components: names, addresses and CIDR ranges", async () => {
  const allowed = new AllowedHosts(["10.0.0.0/8", "fd00::/8", "db.internal"]);
  for (const host of ["10.1.2.3", "[fd00::1]", "db.internal"]) assert.equal(databaseUrlProblem(`postgresql://u@${host}/x`, allowed), null, host);
  assert.match(databaseUrlProblem("postgresql://u@192.168.0.1/x", allowed) ?? "", /loopback or private/, "outside the ranges");
  assert.equal(await resolveDatabaseHost("10.1.2.3", allowed), "10.1.2.3");
  // Numeric and IPv4-mapped spellings of an allowed range's address resolve into it.
  assert.equal(await resolveDatabaseHost("167838211", allowed), "10.1.2.3");
  assert.equal(await resolveDatabaseHost("127.0.0.1", new AllowedHosts(["127.0.0.0/8"])), "127.0.0.1");
  await assert.rejects(resolveDatabaseHost("192.168.0.1", allowed), /loopback or private/);
  // Through the engine: the SQL component's client takes the same list (pgQuery).
  await assert.rejects(pgQuery(["10.0.0.0/8"])("postgresql://u@192.168.0.1/x", "SELECT 1", AbortSignal.timeout(5_000)), /loopback or private/);
});

test("database hosts are checked by the addresses they resolve to: numeric and IPv4-mapped loopback are refused, an allowed host is kept", async () => {
  const none = new AllowedHosts([]);
  for (const host of ["2130706433", "[::ffff:127.0.0.1]", "0x7f000001"]) {
    await assert.rejects(resolveDatabaseHost(host, none), /loopback or private/, host);
  }
  assert.equal(await resolveDatabaseHost("127.0.0.1", new AllowedHosts(["127.0.0.1"])), "127.0.0.1");
  assert.equal(await resolveDatabaseHost("8.8.8.8", none), "8.8.8.8");
});
