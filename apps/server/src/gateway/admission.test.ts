import assert from "node:assert/strict";
import { test } from "node:test";
import type { Principal } from "@flowplane/core";
import { Admissions } from "./admission.js";
import type { GatewayRoute } from "./types.js";

const principal: Principal = { userId: "u-1", name: "app", kind: "machine", orgOwner: false, roles: new Map([["p-1", "viewer"]]), keyId: "k-1" };

test("a route id holding a NUL is no route (404) and is never looked up: the store refuses such a query, which was a 500", async () => {
  const looked: string[] = [];
  const admissions = new Admissions({
    listener: "public", now: Date.now,
    authenticate: (key) => Promise.resolve(key === "good" ? principal : null),
    // As PostgreSQL does: a parameter with a NUL is an error, not a miss.
    resolveRoute: (id) => { looked.push(id); return id.includes("\u0000") ? Promise.reject(new Error("invalid byte sequence for encoding \"UTF8\": 0x00")) : Promise.resolve(null as GatewayRoute | null); },
  });
  const path = { projectId: "p-1", appId: "a-1", routeId: "r-1\u0000" };
  assert.deepEqual(await admissions.admit("good", path), { ok: false, status: 404, message: "no such route" });
  const unknown = await admissions.admit("bad", path);
  assert.equal(unknown.ok ? 200 : unknown.status, 401, "an unknown key is still told so first");
  assert.deepEqual(looked, []);
});
