import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * Test support: a fresh, empty PostgreSQL database per test file on the server named by
 * FLOWPLANE_TEST_DATABASE_URL (.ci/run starts one on loopback and sets it).
 * Without that variable the PostgreSQL tests are skipped with the reason, except under CI,
 * where they fail: CI must never silently skip the real-PostgreSQL suite.
 */
export function postgresSkipReason(): string | false {
  if (process.env.FLOWPLANE_TEST_DATABASE_URL) return false;
  if (process.env.CI) throw new Error("FLOWPLANE_TEST_DATABASE_URL is not set: CI must run the PostgreSQL suite (see .ci/run)");
  return "FLOWPLANE_TEST_DATABASE_URL is not set (start PostgreSQL and set it to run these tests; .ci/run does)";
}

export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = process.env.FLOWPLANE_TEST_DATABASE_URL;
  if (!admin) throw new Error("FLOWPLANE_TEST_DATABASE_URL is not set");
  const name = `flowplane_test_${randomBytes(6).toString("hex")}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      try {
        await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await d.end();
      }
    },
  };
}
