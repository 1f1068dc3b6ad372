import assert from "node:assert/strict";
import { it } from "node:test";
import { unionFields, withApplyOwnership } from "./ownership.js";

it("the union of two field sets keeps every leaf of both, merged at every depth", () => {
  const a = { "f:metadata": { "f:labels": { ".": {}, "f:a": {} } }, "f:spec": { "f:replicas": {} } };
  const b = { "f:metadata": { "f:labels": { "f:b": {} }, "f:annotations": { "f:x": {} } } };
  assert.deepEqual(unionFields(a, b), {
    "f:metadata": { "f:labels": { ".": {}, "f:a": {}, "f:b": {} }, "f:annotations": { "f:x": {} } },
    "f:spec": { "f:replicas": {} },
  });
  assert.deepEqual(unionFields(undefined, a), a);
  assert.deepEqual(unionFields(a, null), a);
});

it("a create's Update entry moves into the manager's Apply entry; other managers and subresources stay", () => {
  const now = new Date("2026-12-06T00:00:00Z");
  const obj = {
    apiVersion: "apps/v1", kind: "Deployment", metadata: {
      name: "runtime", namespace: "ns",
      managedFields: [
        { manager: "flowplane", operation: "Update", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:replicas": {}, "f:template": { "f:metadata": {} } } } },
        { manager: "flowplane", operation: "Apply", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:labels": {} } } },
        { manager: "kube-controller-manager", operation: "Update", apiVersion: "apps/v1", subresource: "status", fieldsType: "FieldsV1", fieldsV1: { "f:status": {} } },
        { manager: "flowplane", operation: "Update", apiVersion: "apps/v1", subresource: "status", fieldsType: "FieldsV1", fieldsV1: { "f:status": { "f:x": {} } } },
        { manager: "someone-else", operation: "Update", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:annotations": {} } } },
      ],
    },
  };
  const out = withApplyOwnership(obj, "flowplane", now)!;
  const fields = out.metadata!.managedFields!;
  assert.equal(fields.filter((e) => e.manager === "flowplane" && !e.subresource).length, 1, "one entry of the manager's own");
  assert.deepEqual(fields.at(-1), {
    manager: "flowplane", operation: "Apply", apiVersion: "apps/v1", time: now, fieldsType: "FieldsV1",
    fieldsV1: { "f:metadata": { "f:labels": {} }, "f:spec": { "f:replicas": {}, "f:template": { "f:metadata": {} } } },
  });
  assert.deepEqual(fields.slice(0, -1).map((e) => `${e.manager}/${e.operation}/${e.subresource ?? ""}`), [
    "kube-controller-manager/Update/status", "flowplane/Update/status", "someone-else/Update/",
  ]);
  assert.equal(obj.metadata.managedFields.length, 5, "the object given is not changed");
});

it("nothing to move: no Update entry of the manager's on the main resource", () => {
  const obj = { apiVersion: "v1", kind: "Secret", metadata: { name: "s", managedFields: [{ manager: "flowplane", operation: "Apply", fieldsV1: {} }, { manager: "other", operation: "Update", fieldsV1: {} }] } };
  assert.equal(withApplyOwnership(obj, "flowplane"), null);
  assert.equal(withApplyOwnership({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" } }, "flowplane"), null);
});

it("an Update entry alone becomes the Apply entry, with its API version", () => {
  const obj = { apiVersion: "v1", kind: "Namespace", metadata: { name: "n", managedFields: [{ manager: "flowplane", operation: "Update", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:labels": { "f:a": {} } } } }] } };
  const out = withApplyOwnership(obj, "flowplane", new Date(0))!;
  assert.deepEqual(out.metadata!.managedFields, [{ manager: "flowplane", operation: "Apply", apiVersion: "v1", time: new Date(0), fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:labels": { "f:a": {} } } } }]);
});
