import assert from "node:assert/strict";
import { it } from "node:test";
import type { BundleVersion } from "@flowplane/core/api";
import { describeVersion } from "./bundles.js";

/** A flow's name comes from its export, another team's for a global bundle: it reaches a terminal only as text. */
it("a version's flow names and warnings show control characters as escapes: no terminal sequence, no forged line", () => {
  const name = "evil\u001b]0;pwned\u0007\u001b[2J\nForged: line";
  const v = {
    name: "b", versionTag: "v1", description: "", accessLevel: "global", allowedProjects: [], digest: "sha256:x", parameters: [],
    flows: [{ id: "f1", name, warnings: [], components: ["Secret"], description: "", endpointName: null }],
    compatibility: { native: { supported: true, missing: [] }, lfx: { supported: true, missing: [] }, recommendedEngine: "native" },
    warnings: [{ code: "secret_unbound", flowId: "f1", flowName: name, nodeId: "n", field: "x", message: `flow "${name}", node n: secret field left empty` }],
    createdAt: "2026-01-01T00:00:00.000Z", createdBy: "u", projectId: null,
  } as unknown as BundleVersion;
  const out = describeVersion(v);
  assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  assert.doesNotMatch(out, /^Forged/m);
  assert.match(out, /Flows: +evil\\u\{1b\}\]0;pwned\\u\{7\}\\u\{1b\}\[2J\\u\{a\}Forged: line \(f1\)/);
  assert.match(out, /! flow "evil\\u\{1b\}.*\\u\{a\}Forged: line", node n/);
});
