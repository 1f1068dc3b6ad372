import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NGINX_STDERR_LINES_PER_10S, nginxStderr, scrubNginxLine } from "./child.js";

describe("nginx's stderr in the control plane's log", () => {
  it("cuts the request a line names (its query, upstream, host and referrer may hold a key)", () => {
    const line = '2026/12/05 08:01:02 [crit] 12#12: *7 connect() to unix:/d/nginx/node.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 10.0.0.9, server: , request: "GET /projects/p/apps/a/routes/r/run?x-api-key=fp_SECRET HTTP/1.1", upstream: "http://unix:/d/nginx/node.sock:/projects/p?x-api-key=fp_SECRET", host: "h", referrer: "http://x/?token=abc"';
    const out = scrubNginxLine(line);
    assert.ok(!out.includes("fp_SECRET") && !out.includes("token=abc"), out);
    assert.match(out, /\[crit\] .* while connecting to upstream, client: 10\.0\.0\.9, server:$/);
    assert.equal(scrubNginxLine('  [crit] flowplane: log sink 127.0.0.1:9: cannot connect\n'), "[crit] flowplane: log sink 127.0.0.1:9: cannot connect");
  });

  it("passes a bounded number of lines per 10 s and says how many it held back", () => {
    let t = 0;
    const said: string[] = [];
    const feed = nginxStderr((l) => said.push(l), () => t);
    feed(Array.from({ length: NGINX_STDERR_LINES_PER_10S + 5 }, (_, i) => `[crit] line ${i}, request: "GET /?x-api-key=k${i}"`).join("\n") + "\n");
    assert.equal(said.length, NGINX_STDERR_LINES_PER_10S);
    assert.ok(said.every((l) => !l.includes("x-api-key")));
    t = 10_000;
    feed("[crit] after the window\n");
    assert.deepEqual(said.slice(-2), ["(5 more lines from nginx in 10 s, not logged)", "[crit] after the window"]);
  });
});
