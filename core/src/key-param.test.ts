import assert from "node:assert/strict";
import { it } from "node:test";
import { generateAccessKey } from "./keys.js";
import { queryWithoutKey, redactUrl } from "./key-param.js";

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

it("a forwarded query holds no access key, under the key parameter's name or any other; other pairs byte for byte", () => {
  const { key } = generateAccessKey();
  for (const name of ["x-api-key", "X-API-KEY", "x-access-key", "token"]) {
    assert.equal(queryWithoutKey(`/r/flows/x/run?stream=true&${name}=${key}&b=%20y`), "stream=true&b=%20y", name);
    assert.equal(queryWithoutKey(`/r/run?${name}=${encodeURIComponent(key)}&a=1`), "a=1", `${name}, encoded`);
  }
  assert.equal(queryWithoutKey("/r/run?limit=fp_short&x=1&&y"), "limit=fp_short&x=1&y");
});
