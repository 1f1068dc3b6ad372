import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { OutboundRefusedError, guardedFetch, isBlockedAddress } from "./outbound.js";

// Real servers on loopback: one on 127.0.0.1 (it redirects when asked to), one on 127.0.0.2
// (Linux routes all of 127/8 to the loopback interface), each counting the requests it got.
const hits = { a: 0, b: 0 };
let a: Server;
let b: Server;
let portA = 0;
let portB = 0;

const listen = async (s: Server, host: string): Promise<number> => {
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  return (s.address() as AddressInfo).port;
};

before(async () => {
  b = createServer((_req, res) => {
    hits.b++;
    res.end("b");
  });
  portB = await listen(b, "127.0.0.2");
  a = createServer((req, res) => {
    hits.a++;
    if (req.url === "/to-b") res.writeHead(302, { location: `http://127.0.0.2:${portB}/` }).end();
    else res.end("a");
  });
  portA = await listen(a, "127.0.0.1");
});
after(() => {
  a.closeAllConnections();
  b.closeAllConnections();
  a.close();
  b.close();
});

/** The refusal under fetch's "fetch failed", or the fetch's own failure. */
async function refusedBy(f: typeof fetch, url: string): Promise<OutboundRefusedError> {
  const before = { ...hits };
  const err = await f(url).then(
    () => assert.fail(`${url} was fetched`),
    (e: unknown) => e,
  );
  const cause = (err as { cause?: unknown }).cause;
  assert.ok(cause instanceof OutboundRefusedError, `${url}: ${String(cause ?? err)}`);
  assert.deepEqual(hits, before, "no request reached a server");
  return cause;
}

test("loopback is refused by default, by address and by a name that resolves to it; no byte is sent", async () => {
  const f = guardedFetch([]);
  assert.match((await refusedBy(f, `http://127.0.0.1:${portA}/`)).message, /^the address 127\.0\.0\.1 is on a loopback, private or reserved network, which flows may not reach unless the operator allows it/);
  assert.match((await refusedBy(f, `http://localhost:${portA}/`)).message, /^localhost \((127\.0\.0\.1|::1)\) is on a loopback/);
  // Other spellings of the same address: a number (WHATWG URL makes it 127.0.0.1), IPv4-mapped IPv6.
  await refusedBy(f, `http://2130706433:${portA}/`);
  await refusedBy(f, `http://[::ffff:127.0.0.1]:${portA}/`);
  await refusedBy(f, `http://[::1]:${portA}/`);
});

test("the operator's allowed hosts open what they name: an address, a CIDR range, a host name", async () => {
  for (const allowed of [["127.0.0.1"], ["127.0.0.0/8"], ["LOCALHOST"]]) {
    const url = allowed[0] === "LOCALHOST" ? `http://localhost:${portA}/` : `http://127.0.0.1:${portA}/`;
    const res = await guardedFetch(allowed)(url);
    assert.equal(await res.text(), "a", allowed[0]);
  }
  // An allowed address opens that address only.
  await refusedBy(guardedFetch(["127.0.0.1"]), `http://127.0.0.2:${portB}/`);
});

test("a redirect is checked like the first request: an allowed host cannot hand the call to a refused one", async () => {
  const f = guardedFetch(["127.0.0.1"]);
  const before = hits.b;
  const err = await f(`http://127.0.0.1:${portA}/to-b`).then(() => null, (e: unknown) => e);
  assert.ok((err as { cause?: unknown })?.cause instanceof OutboundRefusedError, String(err));
  assert.equal(hits.b, before, "the redirect's target got no request");
  // With both allowed, the redirect is followed as before.
  assert.equal(await (await guardedFetch(["127.0.0.1", "127.0.0.2"])(`http://127.0.0.1:${portA}/to-b`)).text(), "b");
});

test("the blocked ranges are lfx's: loopback, private, link-local (cloud metadata), shared, reserved; public addresses pass", () => {
  for (const blocked of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "64:ff9b::a00:1"]) {
    assert.equal(isBlockedAddress(blocked), true, blocked);
  }
  for (const open of ["8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) assert.equal(isBlockedAddress(open), false, open);
});
