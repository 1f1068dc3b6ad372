import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contractProblem, DEPLOY_STEPS, errorStatuses, operations, prepareCall, typedAnswer, ContractError, type Operation } from "./index.js";

const me = { id: "u1", name: "admin", kind: "human", orgOwner: true, roles: { p1: "owner" } };

describe("the API contract", () => {
  it("accepts an answer that matches its operation and status", () => {
    assert.equal(contractProblem(operations.getMe, 200, me), null);
    assert.equal(contractProblem(operations.getMe, 401, { error: { code: "unauthenticated", message: "no key" } }), null);
    assert.equal(contractProblem(operations.removeMember, 204, undefined), null);
  });

  it("names a missing field, an extra field, a wrong enum value and a bad error shape", () => {
    const { kind: _k, ...noKind } = me;
    assert.match(contractProblem(operations.getMe, 200, noKind) ?? "", /kind/);
    assert.match(contractProblem(operations.getMe, 200, { ...me, secret: "x" }) ?? "", /secret/);
    assert.match(contractProblem(operations.getMe, 200, { ...me, kind: "robot" }) ?? "", /kind/);
    assert.match(contractProblem(operations.getMe, 401, { message: "no" }) ?? "", /error/);
  });

  it("refuses a status the operation does not declare, and a body where none is declared", () => {
    assert.match(contractProblem(operations.getMe, 500, { error: { code: "internal_error", message: "x" } }) ?? "", /does not declare/);
    assert.match(contractProblem(operations.getMe, 201, me) ?? "", /does not declare/);
    assert.match(contractProblem(operations.getMe, 409, { error: { code: "conflict", message: "x" } }) ?? "", /does not declare/);
    assert.match(contractProblem(operations.removeMember, 204, { ok: true }) ?? "", /declares none/);
  });

  it("declares 401 for every authenticated operation and for no public one, and 400, 413, 415 for every body", () => {
    assert.deepEqual(Object.entries(operations).filter(([, o]) => (o as Operation).auth === false).map(([id]) => id), ["proveAdminKey"]);
    for (const [id, o] of Object.entries(operations) as [string, Operation][]) {
      const statuses = errorStatuses(o);
      // The one public operation (the CLI's admin-key challenge) takes no key, so never answers 401.
      assert.equal(statuses.includes(401), o.auth !== false, id);
      if (o.body) for (const s of [400, 413, 415] as const) assert.ok(statuses.includes(s), `${id} ${s}`);
      assert.ok(Object.keys(o.ok).length > 0, id);
    }
  });

  it("fills paths from parameters, URL-encoded, and the query as strings", () => {
    const c = prepareCall("getBundleVersion", { params: { name: "a b/c", tag: "v1" } });
    assert.equal(c.path, "/bundles/a%20b%2Fc/versions/v1");
    const l = prepareCall("listDeploymentEvents", { params: { projectId: "p", id: "d" }, query: { limit: 200, cursor: undefined } });
    assert.deepEqual(l.query, { limit: "200" });
  });

  it("a checked answer that does not match throws; an unchecked one is passed through", () => {
    const c = prepareCall("getMe", {});
    assert.throws(() => typedAnswer(c, 200, { ...me, kind: "robot" }, true), ContractError);
    assert.equal(typedAnswer<"getMe">(c, 200, { ...me, kind: "robot" }, false).kind, "robot");
  });

  it("names the four Deploy-dialog steps once, in order, as the dry run's step values", () => {
    assert.deepEqual(DEPLOY_STEPS.map((s) => s.step), ["configure", "credentials", "task", "review"]);
    const steps = (operations.createDeployment.query.shape.step.unwrap().options as string[]);
    assert.deepEqual([...steps], DEPLOY_STEPS.map((s) => s.step));
  });
});
