import assert from "node:assert/strict";
import { test } from "node:test";
import { climbsOut, splitGatewayPath, upstreamPath } from "./paths.js";

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
  for (const p of ["/..", "/a/../b", "/%2e%2e/x", "/a%2F..%2Fb", "/a\\..\\b", "/%zz/.."]) assert.equal(climbsOut(p), true, p);
  for (const p of ["", "/", "/flows", "/a.b/c..d/...", "/v1.2/run"]) assert.equal(climbsOut(p), false, p);
});
