import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readConfig } from "./config.js";

const base = { FLOWPLANE_BUNDLE_PATH: "/b", PATH: "/usr/bin", HOME: "/home/x", HTTPS_PROXY: "http://proxy", KUBERNETES_SERVICE_HOST: "10.0.0.1" };

describe("runtime configuration: which variables are the flow's", () => {
  it("parameters are exactly the listed names; the rest of the environment is the process's", () => {
    const c = readConfig({ ...base, OPENAI_API_KEY: "sk-1", "OPENRAG-QUERY-FILTER": "{}", UNLISTED: "u", FLOWPLANE_PARAMETER_NAMES: '["OPENAI_API_KEY","OPENRAG-QUERY-FILTER","ABSENT"]' });
    assert.deepEqual(c.parameters, { OPENAI_API_KEY: "sk-1", "OPENRAG-QUERY-FILTER": "{}" });
    assert.deepEqual(c.lfx.processEnv, { PATH: "/usr/bin", HOME: "/home/x", HTTPS_PROXY: "http://proxy", KUBERNETES_SERVICE_HOST: "10.0.0.1", UNLISTED: "u" });
  });

  it("reads the revision the replica runs (FLOWPLANE_REVISION), a whole number from 1", () => {
    assert.equal(readConfig({ ...base, FLOWPLANE_REVISION: "3" }).revision, 3);
    assert.equal(readConfig(base).revision, null);
    assert.throws(() => readConfig({ ...base, FLOWPLANE_REVISION: "0" }), /FLOWPLANE_REVISION/);
  });

  it("reads the deployment's tweaks policy (FLOWPLANE_TWEAKS_POLICY), permissive when unset, refusing any other word", () => {
    assert.equal(readConfig(base).tweaksPolicy, "permissive");
    assert.equal(readConfig({ ...base, FLOWPLANE_TWEAKS_POLICY: "off" }).tweaksPolicy, "off");
    assert.equal(readConfig({ ...base, FLOWPLANE_TWEAKS_POLICY: "declared" }).tweaksPolicy, "declared");
    assert.throws(() => readConfig({ ...base, FLOWPLANE_TWEAKS_POLICY: "strict" }), /FLOWPLANE_TWEAKS_POLICY/);
  });

  it("reads inherited listening sockets (FLOWPLANE_RUNTIME_FD, FLOWPLANE_PROBE_FD), descriptors from 3 only", () => {
    const c = readConfig({ ...base, FLOWPLANE_RUNTIME_FD: "4", FLOWPLANE_PROBE_PORT: "0", FLOWPLANE_PROBE_FD: "5" });
    assert.equal(c.fd, 4);
    assert.deepEqual(c.probes, { port: 0, fd: 5 });
    assert.equal(readConfig(base).fd, undefined);
    for (const bad of ["2", "x", "-1"]) assert.throws(() => readConfig({ ...base, FLOWPLANE_RUNTIME_FD: bad }), /FLOWPLANE_RUNTIME_FD/);
    for (const bad of ["2", "x"]) assert.throws(() => readConfig({ ...base, FLOWPLANE_PROBE_FD: bad }), /FLOWPLANE_PROBE_FD/);
    assert.throws(() => readConfig({ ...base, FLOWPLANE_RUNTIME_FD: "4", FLOWPLANE_PROBE_FD: "4" }), /FLOWPLANE_PROBE_FD: must differ from FLOWPLANE_RUNTIME_FD/);
  });

  it("without a list there are no parameters (PATH, HOME... never become flow variables)", () => {
    assert.deepEqual(readConfig(base).parameters, {});
  });

  it("drops listed names that are reserved, and says which (names only)", () => {
    const c = readConfig({ ...base, NODE_OPTIONS: "--import=x", LD_PRELOAD: "/x.so", GOOD: "g", FLOWPLANE_PARAMETER_NAMES: '["NODE_OPTIONS","LD_PRELOAD","PATH","FLOWPLANE_BUNDLE_PATH","GOOD"]' });
    assert.deepEqual(c.parameters, { GOOD: "g" });
    assert.deepEqual(c.droppedParameters, ["FLOWPLANE_BUNDLE_PATH", "LD_PRELOAD", "NODE_OPTIONS", "PATH"]);
    assert.equal(c.bundle.kind === "path" && c.bundle.path, "/b");
  });

  it("refuses a parameter list that is not a JSON array of names, and a short gateway secret, naming the variable", () => {
    for (const bad of ["OPENAI_API_KEY", "[1]", '{"a":1}']) {
      assert.throws(() => readConfig({ ...base, FLOWPLANE_PARAMETER_NAMES: bad }), /FLOWPLANE_PARAMETER_NAMES: must be a JSON array of variable names/);
    }
    assert.throws(() => readConfig({ ...base, FLOWPLANE_GATEWAY_SECRET: "short" }), /FLOWPLANE_GATEWAY_SECRET/);
    assert.equal(readConfig({ ...base, FLOWPLANE_GATEWAY_SECRET: "a-long-enough-secret" }).gatewaySecret, "a-long-enough-secret");
    assert.equal(readConfig(base).gatewaySecret, null);
  });
});
