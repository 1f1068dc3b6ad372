import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CLIENT_ADDRESS_HEADER } from "../data-plane/client-header.js";
import { call, SKIP_WITHOUT_NGINX, startTestNginx, type TestNginx } from "./test-nginx.js";

/**
 * What nginx really sends the workers' socket, read by the workers' switch trusting the
 * client-address header (data-plane/client-header.ts): the value's form ($remote_addr: an
 * address, no port), one header whatever the client sent, and a head past 16 KiB that nginx
 * lets through answered by the workers as node:http would.
 */
describe("nginx in front of the workers' switch: the client-address header", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let nginx: TestNginx;
  before(async () => { nginx = await startTestNginx({ switch: true }); });
  after(async () => { await nginx?.stop(); });

  it("a gateway call nginx does not serve reaches the worker's gateway as from the client, without the header (a client's own overridden)", async () => {
    const r = await call(nginx.port, "/projects/p1/apps/a1/routes/unknown/flows", { headers: { [CLIENT_ADDRESS_HEADER]: "6.6.6.6" } });
    assert.equal(r.status, 200);
    const seen = nginx.workers.seen.at(-1)!;
    assert.equal(seen.address, "127.0.0.1");
    assert.equal(seen.headers[CLIENT_ADDRESS_HEADER], undefined);
  });

  it("an API call is handed over naming the client, its head without the header", async () => {
    const before = nginx.handedOff.length;
    await call(nginx.port, "/api/v1/me", { headers: { [CLIENT_ADDRESS_HEADER]: "6.6.6.6" } }); // 502: the test's switch closes what it hands over
    assert.equal(nginx.handedOff.length, before + 1);
    const h = nginx.handedOff.at(-1)!;
    assert.equal(h.address, "127.0.0.1");
    assert.match(h.head, /^GET \/api\/v1\/me HTTP\/1\.1\r\n/);
    assert.doesNotMatch(h.head, /x-flowplane-client-address/i);
  });

  it("headers nginx accepts (each line under its 16 KiB) but past node:http's 16 KiB in all: the workers' 431", async () => {
    const seen = nginx.workers.seen.length;
    const r = await call(nginx.port, "/projects/p1/apps/a1/routes/unknown/flows", { headers: { "x-a": "a".repeat(9_000), "x-b": "b".repeat(9_000) } });
    assert.equal(r.status, 431);
    assert.match(r.body, /"code":"headers_too_large"/);
    assert.equal(nginx.workers.seen.length, seen);
  });
});
