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

/** Every well-formed escape of `s` decoded, as one byte each (the rest as it is). */
const decodeBytes = (s: string) => s.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));

it("a logged URL shows no access key in its path, its fragment, or percent-encoded anywhere", () => {
  // A fixed key of the real shape: the expected URLs are exact, and a random key could itself
  // hold "fp_" (its redaction would then begin elsewhere).
  const key = "fp_Q9x7Lm2Kd8Rt5Vb3Nw6Yh1Zc4Jg0Pa-Es_Uf9Ik2Ol7";
  const body = key.slice(3); // the 43 secret characters
  /** Every escape of `s` (each character as %XX), in upper or lower case. */
  const escapeAll = (s: string, upper: boolean) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).map((e) => (upper ? e.toUpperCase() : e.toLowerCase())).join("");
  const cases: [string, string][] = [
    // The three URLs of the report.
    [`/api/v1/projects/${key}`, "/api/v1/projects/[redacted]"],
    [`/api/v1/projects/%66p_${body}`, "/api/v1/projects/[redacted]"],
    [`/api/v1/projects?a=fp%5F${body}`, "/api/v1/projects?a=[redacted]"],
    // Escapes in either letter case, of the prefix, of the underscore, of every character.
    [`/p/%66%70%5f${body}/x`, "/p/[redacted]/x"],
    [`/p/%66%70%5F${body}/x`, "/p/[redacted]/x"],
    [`/p/f%70_${body}`, "/p/[redacted]"],
    [`/p/${escapeAll(key, false)}?limit=5`, "/p/[redacted]?limit=5"],
    [`/p/${escapeAll(key, true)}?limit=5`, "/p/[redacted]?limit=5"],
    [`/p/fp_${escapeAll(body.slice(0, 20), true)}${body.slice(20)}`, "/p/[redacted]"],
    // Encoded twice (`%2566` is `%66` is `f`).
    [`/p/%2566p%255F${body}`, "/p/[redacted]"],
    // A key whose `f` ends an escape before it (`x%5f` is `x_`, yet `fp_...` decodes to a key on its own).
    [`/p/x%5fp_${escapeAll(body.slice(0, 5), false)}${body.slice(5)}`, "/p/x[redacted]"],
    [`/p/%252f%70_${body}`, "/p/[redacted]"],
    // Inside a longer segment, and as a query name.
    [`/api/v1/projects/project-${key}-tail/flows`, "/api/v1/projects/project-[redacted]-tail/flows"],
    [`/api/v1/projects/abc%66p_${body}.json`, "/api/v1/projects/abc[redacted].json"],
    [`/flows?${key}=1&limit=5`, "/flows?[redacted]=1&limit=5"],
    [`/flows?${encodeURIComponent(key)}&x-api-key=sk-other`, "/flows?[redacted]&x-api-key=[redacted]"],
    // In a fragment, raw or encoded.
    [`/flows#${key}`, "/flows#[redacted]"],
    [`/flows?limit=5#token=fp%5f${body}`, "/flows?limit=5#token=[redacted]"],
    // Two keys, and a key that begins inside another key-shaped run.
    [`/p/${key}/q/${key}`, "/p/[redacted]/q/[redacted]"],
    [`/p/fp_ab${key}/x`, "/p/[redacted]/x"],
    // Malformed escapes beside a key are kept as they are, and do not throw.
    [`/p/%zz/%/%6/${key}%`, "/p/%zz/%/%6/[redacted]%"],
    [`/p?a=%E0%A4%A&b=%${key}`, "/p?a=%E0%A4%A&b=%[redacted]"],
  ];
  for (const [url, expected] of cases) {
    const out = redactUrl(url);
    assert.equal(out, expected, url);
    const decoded = [out, decodeBytes(out), decodeBytes(decodeBytes(out))];
    assert.ok(decoded.every((d) => !d.includes(body.slice(0, 8)) && !d.includes(body.slice(-8))), `${url} -> ${out}`);
    assert.equal(redactUrl(out), out, `${url}: redacting again changes nothing`);
  }
});

it("a logged URL without a key is left byte for byte, malformed escapes included", () => {
  for (const url of [
    "/api/v1/projects",
    "/api/v1/projects/p1/deployments?limit=5&cursor=abc",
    "/flows?q=%20a%2Fb%2f&name=caf%C3%A9#frag",
    "/fp_short/fp_/%66p_short?fp=1&FP_x=%46P_y",
    `/p/FP_${"A".repeat(43)}`, // not flowplane's prefix (keys are lower case)
    `/p/fp_${"A".repeat(42)}`, // one character short
    `/p/fp_${"A".repeat(21)}/${"A".repeat(21)}`, // broken by a separator
    "/p/%zz/%/%6/%%41%",
    "/p/%E0%A4%A",
    "",
  ]) assert.equal(redactUrl(url), url, url);
});

it("a forwarded query holds no access key, under the key parameter's name or any other; other pairs byte for byte", () => {
  const { key } = generateAccessKey();
  for (const name of ["x-api-key", "X-API-KEY", "x-access-key", "token"]) {
    assert.equal(queryWithoutKey(`/r/flows/x/run?stream=true&${name}=${key}&b=%20y`), "stream=true&b=%20y", name);
    assert.equal(queryWithoutKey(`/r/run?${name}=${encodeURIComponent(key)}&a=1`), "a=1", `${name}, encoded`);
  }
  assert.equal(queryWithoutKey("/r/run?limit=fp_short&x=1&&y"), "limit=fp_short&x=1&y");
  // Percent-encoded under another name, or as a pair's name: never forwarded either.
  const body = key.slice(3);
  assert.equal(queryWithoutKey(`/r/run?token=%66p_${body}&a=1`), "a=1", "the prefix escaped");
  assert.equal(queryWithoutKey(`/r/run?token=fp%5F${body}&a=1`), "a=1", "the underscore escaped");
  assert.equal(queryWithoutKey(`/r/run?a=1&${key.replace("_", "%5f")}`), "a=1", "as a name");
  assert.equal(queryWithoutKey(`/r/run?a=%66p_short&b=%zz`), "a=%66p_short&b=%zz", "no key: byte for byte, malformed escapes too");
});
