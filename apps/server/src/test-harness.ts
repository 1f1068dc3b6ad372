import { randomBytes } from "node:crypto";
import { type DeploymentCredentials, type Role, type Store, type UserKind } from "@flowplane/core";
import { createPgliteClient, createPostgresClient, createSqlStore, createTestDatabase, type SqlClient } from "@flowplane/store";
import { createControlPlane, type ControlPlane, type ControlPlaneOptions } from "./control-plane.js";

/**
 * An in-process control plane over an in-memory PGlite, for API tests: requests go through
 * Fastify's inject (the full HTTP pipeline without a socket). The clock is movable.
 */
export interface TestControlPlane {
  cp: ControlPlane;
  store: Store;
  sql: SqlClient;
  ownerKey: string;
  /** The credential encryption key, so tests can check what is stored. */
  secretKey: Buffer;
  credentials: DeploymentCredentials;
  clock: { now: Date };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read answers loosely; assertions check the shape
  call(method: string, url: string, o?: { key?: string | null; body?: unknown; payload?: string | Buffer; headers?: Record<string, string> }): Promise<{ status: number; json: any; text: string; headers: Record<string, unknown> }>;
  /** A user with a fresh key and the given project roles. */
  user(name: string, roles?: Record<string, Role>, kind?: UserKind): Promise<{ id: string; key: string }>;
  project(name: string): Promise<string>;
  /** Answers that broke the API contract so far (each also turned into a 500 for its test). */
  contractProblems: string[];
  /** Closes everything; fails when an answer broke the API contract. */
  close(): Promise<void>;
}

/** The same over a throw-away database of the test PostgreSQL (FLOWPLANE_TEST_DATABASE_URL), dropped on close. */
export async function startPostgresTestControlPlane(): Promise<TestControlPlane> {
  const db = await createTestDatabase();
  const t = await startTestControlPlane({ sql: await createPostgresClient(db.url) });
  return { ...t, close: async () => { await t.close(); await db.drop(); } };
}

export async function startTestControlPlane(o: { bodyLimit?: number; notify?: (id: string) => void; sql?: SqlClient } & Pick<ControlPlaneOptions, "logs" | "follow" | "sampler" | "badKeyBudget" | "traceMaxBytes" | "bodyBudget" | "prepareVersion" | "adminKeyProver" | "relaySecret"> = {}): Promise<TestControlPlane> {
  // An in-memory PGlite unless the test brings its own database (a real PostgreSQL).
  const sql = o.sql ?? await createPgliteClient();
  const store = createSqlStore({ sql });
  await store.migrate();
  const clock = { now: new Date() };
  const contractProblems: string[] = [];
  const secretKey = randomBytes(32);
  const cp = createControlPlane({
    store,
    secretKey,
    urls: { public: "http://gw.test", private: "http://gw-private.test" },
    bodyLimit: o.bodyLimit ?? 10 * 1024 * 1024,
    logger: false,
    now: () => clock.now,
    ...(o.notify ? { notify: o.notify } : {}),
    ...(o.logs ? { logs: o.logs } : {}),
    ...(o.follow ? { follow: o.follow } : {}),
    ...(o.sampler ? { sampler: o.sampler } : {}),
    ...(o.badKeyBudget ? { badKeyBudget: o.badKeyBudget } : {}),
    ...(o.traceMaxBytes ? { traceMaxBytes: o.traceMaxBytes } : {}),
    ...(o.bodyBudget ? { bodyBudget: o.bodyBudget } : {}),
    ...(o.prepareVersion ? { prepareVersion: o.prepareVersion } : {}),
    ...(o.adminKeyProver ? { adminKeyProver: o.adminKeyProver } : {}),
    ...(o.relaySecret ? { relaySecret: o.relaySecret } : {}),
    // Every answer of every API test is checked against the contract (@flowplane/core/api).
    checkAnswers: (problem) => contractProblems.push(problem),
  });
  const owner = await store.createUser({ id: "org-owner", name: "admin", kind: "human", orgOwner: true });
  const ownerKey = (await cp.identity.issueKey(owner, 30)).key;

  const call: TestControlPlane["call"] = async (method, url, c = {}) => {
    const headers: Record<string, string> = { ...c.headers };
    const key = c.key === undefined ? ownerKey : c.key;
    if (key !== null) headers["x-access-key"] = key;
    let payload = c.payload;
    if (c.body !== undefined) {
      payload = JSON.stringify(c.body);
      headers["content-type"] ??= "application/json";
    }
    const r = await cp.app.inject({ method: method as "GET", url, headers, ...(payload !== undefined ? { payload } : {}) });
    let json: unknown = undefined;
    try {
      json = r.body ? JSON.parse(r.body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.statusCode, json, text: r.body, headers: r.headers };
  };

  let n = 0;
  return {
    cp, store, sql, ownerKey, secretKey, credentials: cp.credentials, clock, call, contractProblems,
    async user(name, roles = {}, kind = "machine") {
      const u = await store.createUser({ id: `user-${++n}-${name}`, name, kind, orgOwner: false });
      for (const [projectId, role] of Object.entries(roles)) await store.setMember(projectId, u.id, role);
      return { id: u.id, key: (await cp.identity.issueKey(u, 30)).key };
    },
    async project(name) {
      const r = await call("POST", "/api/v1/projects", { body: { name } });
      if (r.status !== 201) throw new Error(`project ${name}: ${r.status} ${r.text}`);
      return r.json.id as string;
    },
    async close() {
      await cp.app.close();
      await sql.close();
      if (contractProblems.length > 0) {
        throw new Error(`${contractProblems.length} API answer(s) broke the contract:\n${contractProblems.join("\n")}`);
      }
    },
  };
}
