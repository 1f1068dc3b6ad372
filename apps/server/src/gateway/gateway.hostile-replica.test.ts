import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { principal, rawRequest, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

const KEY = { "x-access-key": "k" };
/** Answer headers that would set state for the whole shared origin (headers.ts ORIGIN_WIDE_ANSWER_HEADERS). */
const ORIGIN_WIDE = {
  "clear-site-data": "\"storage\"", "nel": "{\"report_to\":\"x\",\"max_age\":86400,\"success_fraction\":1}",
  "report-to": "{\"group\":\"x\",\"max_age\":86400,\"endpoints\":[{\"url\":\"https://collector.example/\"}]}",
  "reporting-endpoints": "x=\"https://collector.example/\"", "alt-svc": "h2=\"other.example:443\"", "strict-transport-security": "max-age=31536000; includeSubDomains",
  // Reports the document's URL, with a caller's ?x-api-key= (stripped for the replica), to the replica's collector.
  "content-security-policy-report-only": "img-src 'none'; report-uri https://collector.example/csp",
};

/**
 * A replica runs a team's code, and the gateway shares its origin with the API and the web UI:
 * whatever a replica answers, no script of it runs in that origin, no cookie of it reaches the
 * other deployments or the API, and garbage in its headers is no 500.
 */
describe("gateway: a hostile replica", () => {
  let g: TestGateway;
  let up: Upstream;
  /** Another origin a replica would send callers to; what reached it. */
  let elsewhere: Upstream;
  const reachedElsewhere: (string | undefined)[] = [];

  before(async () => {
    elsewhere = await startUpstream((req, res) => {
      reachedElsewhere.push(String(req.headers["x-access-key"] ?? req.headers["x-api-key"] ?? ""));
      res.end("thanks");
    });
    g = await startGateway();
    g.keys.set("k", principal("u1"));
    up = await startUpstream((req, res) => {
      if (req.url === "/html") {
        res.writeHead(200, {
          "content-type": "text/html", "content-security-policy": "default-src *; script-src * 'unsafe-inline'",
          "set-cookie": ["session=stolen; Path=/", "other=1; Path=/api"], "x-content-type-options": "none",
          ...ORIGIN_WIDE,
        });
        return void res.end("<script>fetch('/api/v1/me')</script>");
      }
      if (req.url === "/redirect") {
        res.writeHead(307, { location: `${elsewhere.url}/stolen`, refresh: `0; url=${elsewhere.url}/stolen` });
        return void res.end();
      }
      if (req.url === "/garbage") {
        res.writeHead(200, { "x-flowplane-revision": "1e2", "x-flowplane-error": "e".repeat(10_000), "content-type": "application/json" });
        return void res.end("{not json");
      }
      res.end("ok");
    });
    g.routes.set("r", route("r"));
    g.endpoints.set("res-r", [up.url]);
  });
  after(async () => {
    await g.close();
    await up.close();
    await elsewhere.close();
  });

  test("HTML from a replica is sandboxed (its own opaque origin), never sniffed, and its cookies and other origin-wide headers (reporting, Clear-Site-Data, Alt-Svc, HSTS) are dropped", async () => {
    const res = await rawRequest(routeUrl(g, "r", "/html"), { headers: KEY });
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-security-policy"], "sandbox");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.equal(res.headers["set-cookie"], undefined);
    for (const name of Object.keys(ORIGIN_WIDE)) assert.equal(res.headers[name], undefined, `${name}: state for the whole origin`);
    const plain = await rawRequest(routeUrl(g, "r", "/plain"), { headers: KEY });
    assert.equal(plain.headers["content-security-policy"], "sandbox", "on every answer");
  });

  test("a replica's redirect is passed on without where it goes: no client follows it, with the caller's key, to another origin", async () => {
    // fetch follows a 307 with the method, the body and x-access-key (it drops only Authorization).
    const res = await fetch(routeUrl(g, "r", "/redirect"), { method: "POST", headers: { ...KEY, "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 307, "the answer is the replica's, not followed");
    assert.equal(res.headers.get("location"), null);
    assert.equal(res.headers.get("refresh"), null);
    await res.text();
    assert.deepEqual(reachedElsewhere, [], "nothing reached the other origin");
  });

  test("garbage headers and a body that is not what it says: passed on as they are, no 500", async () => {
    const res = await fetch(routeUrl(g, "r", "/garbage"), { headers: KEY });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "{not json");
    assert.notEqual(res.headers.get("x-flowplane-revision"), "1e2", "a revision header that is not a plain number is not passed on");
  });
});
