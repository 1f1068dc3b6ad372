import assert from "node:assert/strict";
import { test } from "node:test";
import { pathRefusal, splitGatewayPath, upstreamPath } from "./paths.js";

test("splits the route prefix from the raw rest, dropping the query", () => {
  assert.deepEqual(splitGatewayPath("/projects/p/apps/a/routes/r"), { prefix: "/projects/p/apps/a/routes/r", rest: "" });
  assert.deepEqual(splitGatewayPath("/projects/p/apps/a/routes/r?x=1"), { prefix: "/projects/p/apps/a/routes/r", rest: "" });
  assert.deepEqual(splitGatewayPath("/projects/p/apps/a/routes/r/"), { prefix: "/projects/p/apps/a/routes/r", rest: "/" });
  assert.deepEqual(splitGatewayPath("/projects/p/apps/a/routes/r/a%2Fb/c?d=/e"), { prefix: "/projects/p/apps/a/routes/r", rest: "/a%2Fb/c" });
});

test("maps HTTP routes onto the root and MCP routes onto /mcp", () => {
  assert.equal(upstreamPath("http", ""), "/");
  assert.equal(upstreamPath("http", "/flows"), "/flows");
  assert.equal(upstreamPath("mcp", ""), "/mcp");
  assert.equal(upstreamPath("mcp", "/x"), "/mcp/x");
});

test("'..' segments are caught, plain and encoded; dots inside names are fine", () => {
  for (const p of ["/..", "/a/../b", "/%2e%2e/x", "/a%2F..%2Fb", "/a\\..\\b"]) assert.match(pathRefusal(p) ?? "", /'\.\.' segments/, p);
  for (const p of ["", "/", "/flows", "/a.b/c..d/...", "/v1.2/run"]) assert.equal(pathRefusal(p), null, p);
});

test("a malformed percent-escape is refused as what it is, not as a '..' segment", () => {
  for (const p of ["/api/v1/run/%ZZ", "/%zz/..", "/flows/%E0%A4%A"]) {
    const why = pathRefusal(p) ?? "";
    assert.match(why, /malformed percent-escape/, p);
    assert.doesNotMatch(why, /'\.\.'/, p);
  }
});
