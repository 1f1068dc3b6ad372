import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startHttpServer } from "@flowplane/testkit";
import { ApiClient } from "./client.js";

/**
 * The CLI sends the caller's access key with every request, to the API and to a deployment's
 * gateway endpoint (`flowplane invoke`), whose answers come from a replica: a team's code. A
 * redirect there must not carry the key to another origin (fetch drops only Authorization on a
 * cross-origin redirect, never x-access-key), where it would open every project of the caller.
 */
const KEY = "fp_the-callers-access-key-00000000000000000000000";
const seen: (string | undefined)[] = [];
const elsewhere = await startHttpServer((req, res) => {
  seen.push(req.headers["x-access-key"] as string | undefined);
  res.writeHead(200, { "content-type": "application/json" }).end("[]");
});
const endpoint = await startHttpServer((_req, res) => res.writeHead(302, { location: `${elsewhere.url}/flows` }).end());
after(async () => {
  await elsewhere.close();
  await endpoint.close();
});

test("a redirect from a gateway endpoint or the server is not followed with the key", async () => {
  const client = new ApiClient({ server: endpoint.url, key: KEY, keySource: "env" });
  const res = await client.fetch(`${endpoint.url}/projects/p/apps/a/routes/r/flows`);
  const api = await client.request("GET", "/me").then(() => "answered", (e: Error) => e.message);
  assert.deepEqual(seen, [], "the key went to the origin the redirect named");
  assert.equal(res.status, 302, "the redirect is the answer, for the command to report");
  assert.match(api, /HTTP 302/);
});
