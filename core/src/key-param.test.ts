import assert from "node:assert/strict";
import { it } from "node:test";
import { generateAccessKey } from "./keys.js";
import { redactUrl } from "./key-param.js";

it("a logged URL shows no access key, under the key parameter's name or any other", () => {
  const { key } = generateAccessKey();
  assert.equal(redactUrl(`/api/v1/projects?x-api-key=${key}&limit=5`), "/api/v1/projects?x-api-key=[redacted]&limit=5");
  for (const name of ["X-API-KEY", "x-access-key", "token", "api_key"]) {
    const out = redactUrl(`/p/run?stream=true&${name}=${key}&${name}=${encodeURIComponent(key)}`);
    assert.ok(!out.includes(key.slice(3)), `${name}: ${out}`);
    assert.equal(out, `/p/run?stream=true&${name}=[redacted]&${name}=[redacted]`);
  }
  assert.equal(redactUrl("/flows?limit=fp_short&x=1"), "/flows?limit=fp_short&x=1", "other values byte for byte");
});
