import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { createDeploymentCredentials } from "./credentials-blob.js";
import { createSecretBox } from "./secretbox.js";

describe("deployment credentials blob", () => {
  const SECRET = "sk-s3cret-value";
  const creds = createDeploymentCredentials(createSecretBox(randomBytes(32)));

  it("seals values for one deployment and opens them for it, with no value in clear", () => {
    const blob = creds.seal("dep-1", { OPENAI_API_KEY: SECRET, OTHER: "" });
    assert.ok(!blob.toString("latin1").includes(SECRET));
    assert.deepEqual(creds.open("dep-1", blob), { OPENAI_API_KEY: SECRET, OTHER: "" });
  });

  it("opens no row as no values", () => {
    assert.deepEqual(creds.open("dep-1", null), {});
  });

  it("refuses another deployment's blob, naming the deployment and no value", () => {
    const blob = creds.seal("dep-1", { OPENAI_API_KEY: SECRET });
    assert.throws(() => creds.open("dep-2", blob), (e: Error) => e.message.includes("dep-2") && !e.message.includes(SECRET));
  });

  it("refuses a tampered blob (any byte) and a blob sealed under another key", () => {
    const blob = creds.seal("dep-1", { OPENAI_API_KEY: SECRET });
    for (const at of [0, 5, 20, blob.length - 1]) {
      const tampered = Buffer.from(blob);
      tampered[at] = tampered[at]! ^ 1;
      assert.throws(() => creds.open("dep-1", tampered), /do not open/, `byte ${at}`);
    }
    assert.throws(() => creds.open("dep-1", blob.subarray(0, 20)), /do not open/, "truncated");
    const other = createDeploymentCredentials(createSecretBox(randomBytes(32)));
    assert.throws(() => other.open("dep-1", blob), /do not open/);
  });

  it("refuses a blob that opens but holds no map of strings", () => {
    const box = createSecretBox(randomBytes(32));
    const c = createDeploymentCredentials(box);
    assert.throws(() => c.open("d", box.seal('["x"]', "d")), /not a map/);
    assert.throws(() => c.open("d", box.seal('{"A":1}', "d")), /not a map/);
  });
});
