import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_RESOURCES, type RuntimeSpec } from "@flowplane/core";
import { replicaEnv } from "./replica-env.js";

const spec = (over: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
  deploymentId: "d1", projectId: "p1", resourceName: "chat-x1", generation: 1,
  bundle: { name: "chat", version: "1", digest: `sha256:${"a".repeat(64)}` },
  bundleUrl: "http://127.0.0.1:1/internal/v1/deployments/d1/bundle", identityToken: "tok", gatewaySecret: "gw-secret-value-0123",
  engine: "native", logLevel: "info", requestTimeoutSeconds: 60, networkAccess: "public",
  resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: { OPENAI_API_KEY: "sk-1", DATABASE_URL: "postgresql://u:held-7@db/x" }, ...over,
});
const build = (s: RuntimeSpec) => replicaEnv(s, { replica: "r1", port: 1, probePort: 2, baseEnv: {}, shutdownGraceMs: 1000 }).env;

describe("a local replica's environment", () => {
  it("names the plain parameters kept secret (FLOWPLANE_SECRET_PARAMETER_NAMES, names only), and sets nothing when none is", () => {
    const env = build(spec({ secretParameters: ["DATABASE_URL"] }));
    assert.equal(env.FLOWPLANE_SECRET_PARAMETER_NAMES, '["DATABASE_URL"]');
    assert.equal(env.DATABASE_URL, "postgresql://u:held-7@db/x");
    assert.equal("FLOWPLANE_SECRET_PARAMETER_NAMES" in build(spec()), false);
    assert.equal("FLOWPLANE_SECRET_PARAMETER_NAMES" in build(spec({ secretParameters: [] })), false);
  });

  it("gives the replica the deployment's tweaks policy when it is not permissive (FLOWPLANE_TWEAKS_POLICY), and nothing when it is", () => {
    assert.equal(build(spec({ tweaksPolicy: "off" })).FLOWPLANE_TWEAKS_POLICY, "off");
    assert.equal(build(spec({ tweaksPolicy: "declared" })).FLOWPLANE_TWEAKS_POLICY, "declared");
    assert.equal("FLOWPLANE_TWEAKS_POLICY" in build(spec({ tweaksPolicy: "permissive" })), false);
    assert.equal("FLOWPLANE_TWEAKS_POLICY" in build(spec()), false);
  });
});
