import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CliError, Exit } from "./errors.js";
import { parseBundleRef, requestFrom, resourcesFrom, runtimeFrom } from "./deploy-spec.js";

describe("deploy flags to the deploy request", () => {
  it("defaults the version to latest and splits NAME@VERSION at the last @", () => {
    assert.deepEqual(parseBundleRef("chat"), { name: "chat", version: "latest" });
    assert.deepEqual(parseBundleRef("chat@v2"), { name: "chat", version: "v2" });
    assert.deepEqual(parseBundleRef("@scope/chat@v1"), { name: "@scope/chat", version: "v1" });
  });

  it("sends numbers as numbers and anything else as typed, so the server's message is the one shown", () => {
    assert.deepEqual(resourcesFrom({ replicas: "9" }), { replicas: 9 });
    assert.deepEqual(resourcesFrom({ replicas: "two" }), { replicas: "two" });
  });

  it("sends only the fields given: the server applies its defaults to the rest", () => {
    const req = requestFrom({ name: "Chat", bundle: "chat@v1", cpuLimit: "2", param: ["MODEL=gpt"] }, { KEY: "s" });
    assert.deepEqual(req, {
      displayName: "Chat", bundle: { name: "chat", version: "v1" }, networkAccess: "public",
      credentials: { KEY: "s" }, parameters: { MODEL: "gpt" }, resources: { cpu: { limit: "2" } },
    });
    assert.equal(requestFrom({ network: "private" }, {}).networkAccess, "private");
    assert.deepEqual(requestFrom({ engine: "native", timeout: "30" }, {}).runtime, { engine: "native", requestTimeoutSeconds: 30 });
  });

  it("maps --tweaks-policy to runtime.tweaksPolicy, and names a value that is none of the three before anything is sent", () => {
    for (const policy of ["permissive", "declared", "off"]) assert.deepEqual(runtimeFrom({ tweaksPolicy: policy }), { tweaksPolicy: policy });
    assert.deepEqual(requestFrom({ logLevel: "debug", tweaksPolicy: "off" }, {}).runtime, { logLevel: "debug", tweaksPolicy: "off" });
    assert.equal(runtimeFrom({ logLevel: "debug" })?.tweaksPolicy, undefined, "not given: not sent, the server keeps its value (permissive on a new deployment)");
    assert.throws(() => runtimeFrom({ tweaksPolicy: "strict" }), (e: unknown) => e instanceof CliError && e.exitCode === Exit.usage
      && e.message === "--tweaks-policy strict: choose permissive, declared or off");
  });
});
