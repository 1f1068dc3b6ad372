import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { notFoundBody, shownPath } from "./not-found.js";

describe("the 404 for a URL outside every route", () => {
  it("names the method and the path, never the query", () => {
    assert.deepEqual(notFoundBody("GET", "/api/v1/nope?key=fp_secret"), { error: { code: "not_found", message: "no such endpoint: GET /api/v1/nope" } });
  });
  it("shows only the path of an absolute-form target, and nothing of another form", () => {
    assert.equal(shownPath("http://elsewhere.example/x/y?key=1"), "/x/y");
    assert.equal(shownPath("https://user:pw@elsewhere.example:8443/"), "/");
    assert.equal(shownPath("elsewhere.example:443"), "", "authority-form");
    assert.equal(shownPath("*"), "", "asterisk-form");
  });
  it("cuts a long path", () => {
    const shown = shownPath(`/${"a".repeat(10_000)}`);
    assert.equal(shown.length, 257);
    assert.ok(shown.endsWith("…"));
  });
});
