import assert from "node:assert/strict";
import { test } from "node:test";
import { ValidationError } from "@flowplane/core";
import { operations } from "@flowplane/core/api";
import { checkWriteQuery } from "./write-query.js";

const op = (method: string, path: string) => {
  const found = Object.values(operations).find((o) => o.method === method && o.path === path);
  assert.ok(found, `${method} ${path} is in the contract`);
  return found;
};

test("a write refuses a query parameter its operation does not describe, naming it: PATCH ?dryRun=true is no dry run", () => {
  const patch = op("PATCH", "/projects/{projectId}/deployments/{id}");
  assert.throws(() => checkWriteQuery(patch, { dryRun: "true" }), (e: unknown) => {
    assert.ok(e instanceof ValidationError);
    assert.deepEqual(e.errors.map((x) => x.field), ["dryRun"]);
    assert.match(e.errors[0]!.message, /is not a query parameter of PATCH \/projects\/\{projectId\}\/deployments\/\{id\}, which takes no query parameters/);
    return true;
  });
  assert.doesNotThrow(() => checkWriteQuery(patch, {}));
});

test("a write's described parameters pass; a read's unknown ones are left alone", () => {
  const deploy = op("POST", "/projects/{projectId}/deployments");
  assert.doesNotThrow(() => checkWriteQuery(deploy, { dryRun: "true", step: "review" }));
  assert.throws(() => checkWriteQuery(deploy, { dryRun: "true", dry_run: "true" }), (e: unknown) => e instanceof ValidationError && e.errors.length === 1 && e.errors[0]!.field === "dry_run" && /takes only dryRun, step/.test(e.errors[0]!.message));
  assert.doesNotThrow(() => checkWriteQuery(op("GET", "/projects"), { _: "1700000000" }));
});
