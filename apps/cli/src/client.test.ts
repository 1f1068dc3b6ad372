import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHttpServer } from "@flowplane/testkit";
import { adminKeyProof } from "@flowplane/core/api";
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

/**
 * The admin key found on disk (`localAdmin`) goes only where a proof was just given for it: the
 * server called proves it holds the key (core/api admin-proof.ts), but a gateway endpoint the API
 * hands out is another origin (FLOWPLANE_EXTERNAL_URL, another process with split roles), and a
 * proof given once says nothing of what holds the port a minute later (a server restarted while
 * `deploy --wait` polls).
 */
describe("ApiClient and the local admin key: sent only where and when it was proven", () => {
  const KEY = "fp_local_admin_key_0123456789abcdefghijklmnop";
  /** Requests that reached something other than the server holding the key, with their key. */
  const stolen: string[] = [];
  let squatting = false;
  let real: Awaited<ReturnType<typeof startHttpServer>>;
  let other: Awaited<ReturnType<typeof startHttpServer>>;

  before(async () => {
    real = await startHttpServer((req, res) => {
      let body = "";
      req.on("data", (b: Buffer) => (body += b.toString()));
      req.on("end", () => {
        const key = req.headers["x-access-key"];
        if (squatting) {
          // The port taken over by another program: no key to prove with.
          if (key) stolen.push(`${req.method} ${req.url} on the server's port once it was taken`);
          res.writeHead(200, { "content-type": "application/json" }).end(req.url?.endsWith("/admin-key/proof") ? '{"port":1,"addresses":[],"proof":"x"}' : '{"items":[],"nextCursor":null}');
          return;
        }
        if (req.url === "/api/v1/admin-key/proof") {
          const at = { port: Number(new URL(real.url).port), addresses: ["127.0.0.1"] };
          void adminKeyProof(KEY, at, (JSON.parse(body) as { nonce: string }).nonce).then((proof) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...at, proof })));
          return;
        }
        res.writeHead(key === KEY ? 200 : 401, { "content-type": "application/json" }).end('{"items":[],"nextCursor":null}');
      });
    });
    other = await startHttpServer((req, res) => {
      if (req.headers["x-access-key"]) stolen.push(`${req.method} ${req.url} on another port`);
      res.writeHead(200, { "content-type": "application/json" }).end("[]");
    });
  });
  after(async () => {
    await real.close();
    await other.close();
  });
  const client = () => new ApiClient({ server: real.url, key: KEY, keySource: "/data/admin.key", localAdmin: true });
  const notSent = (e: unknown) => e instanceof CliError && e.exitCode === Exit.auth && /was not sent/.test(e.message);

  it("an endpoint on another origin than the server that proved it gets no key (invoke's gateway URL)", async () => {
    const c = client();
    assert.equal((await c.request("GET", "/projects")).status, 200);
    await assert.rejects(c.fetch(`${other.url}/projects/p/apps/a/routes/r/flows`), notSent);
    await assert.rejects(c.fetch("https://flows.example.invalid/projects/p/apps/a/routes/r/flows"), (e: unknown) => notSent(e) && /not on this machine/.test((e as Error).message));
    assert.deepEqual(stolen, []);
    // The server's own origin still gets it, as often as asked.
    assert.equal((await c.fetch(`${real.url}/projects/p/apps/a/routes/r/flows`)).status, 200);
  });

  it("a proof is good for the request it precedes, not for the client's life: a port taken over meanwhile gets no key", async () => {
    const c = client();
    await Promise.all([c.request("GET", "/projects"), c.request("GET", "/projects")]);
    squatting = true;
    try {
      await assert.rejects(c.request("GET", "/projects"), notSent);
    } finally {
      squatting = false;
    }
    assert.deepEqual(stolen, []);
  });
});
