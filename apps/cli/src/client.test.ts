import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHttpServer } from "@flowplane/testkit";
import { ApiClient } from "./client.js";
import { CliError, Exit } from "./errors.js";

/**
 * A server (or anything in front of it) that answers with a redirect to another origin: fetch
 * follows it by default and drops only `Authorization` and cookies, so the `x-access-key` went
 * along, and a 307/308 carried the request body too (a deploy's credentials).
 */
describe("ApiClient and redirects", () => {
  let elsewhere: Awaited<ReturnType<typeof startHttpServer>>;
  let redirecting: Awaited<ReturnType<typeof startHttpServer>>;
  const seen: { url: string; key: string | undefined; body: string }[] = [];

  before(async () => {
    elsewhere = await startHttpServer((req, res) => {
      let body = "";
      req.on("data", (b: Buffer) => (body += b.toString()));
      req.on("end", () => {
        seen.push({ url: req.url ?? "", key: req.headers["x-access-key"] as string | undefined, body });
        res.writeHead(200, { "content-type": "application/json" }).end('{"items":[],"nextCursor":null}');
      });
    });
    // Another origin: another port on the same address.
    redirecting = await startHttpServer((req, res) => void res.writeHead(307, { location: `${elsewhere.url}${req.url ?? "/"}` }).end());
  });
  after(async () => {
    await redirecting.close();
    await elsewhere.close();
  });

  const client = () => new ApiClient({ server: redirecting.url, key: "fp_test_secret", keySource: "FLOWPLANE_ACCESS_KEY" });

  it("an API call answered with a redirect is an error naming where it points; the key and body go nowhere else", async () => {
    await assert.rejects(client().request("POST", "/projects/p/deployments", { body: { credentials: { OPENAI_API_KEY: "sk-secret" } } }), (e: unknown) => {
      assert.ok(e instanceof CliError);
      assert.equal(e.exitCode, Exit.unexpected);
      assert.match(e.message, /redirect/);
      assert.ok(e.message.includes(elsewhere.url), e.message);
      return true;
    });
    await assert.rejects(client().request("GET", "/projects"), CliError);
    assert.deepEqual(seen, []);
  });

  it("a gateway call (invoke, runs --follow) answered with a redirect is not followed either", async () => {
    await assert.rejects(client().fetch(`${redirecting.url}/projects/p/apps/a/routes/r/flows`), (e: unknown) => e instanceof CliError && /redirect/.test(e.message));
    assert.deepEqual(seen, []);
  });
});

/**
 * A server whose pages never end (the same cursor again and again): `all` asked for the next
 * page forever, holding every item, so `flowplane projects list` never returned.
 */
describe("ApiClient.all and a cursor that comes back", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let calls = 0;
  before(async () => {
    server = await startHttpServer((_req, res) => {
      calls++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ items: [{ id: `p${calls}`, name: "p", createdAt: "" }], nextCursor: "again" }));
    });
  });
  after(() => server.close());

  it("is an error, not an endless walk", { timeout: 10_000 }, async () => {
    const client = new ApiClient({ server: server.url, key: "k", keySource: "FLOWPLANE_ACCESS_KEY" });
    await assert.rejects(client.all("listProjects", {}), (e: unknown) => e instanceof CliError && /cursor/.test(e.message));
    assert.ok(calls <= 3, `${calls} pages asked for`);
  });
});
