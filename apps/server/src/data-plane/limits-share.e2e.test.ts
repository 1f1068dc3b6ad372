import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { killAll, loadFixture, replicaPidsOf, startServer, waitFor, type ServerProcess } from "@flowplane/testkit";

/**
 * A deployment's limits hold whichever process serves the call. With one worker, the worker
 * holds the whole limit; a gateway call on a connection whose first request was an API call is
 * served by the control plane (the worker handed the connection over), which had a share of its
 * own beside the worker's: a caller who opened each connection with an API request met the limit
 * twice. Such calls are now admitted by a worker's limiter (supervisor.ts `admit`).
 */
describe("rate and concurrency limits on connections the control plane serves (e2e)", { timeout: 180_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  const deployments: Record<string, URL> = {};

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${path}`, {
      method, headers: { "x-access-key": admin, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
  };
  /** Requests written one after the other on ONE new connection; the status and ratelimit header of each answer. */
  const onOneConnection = async (requests: string[]): Promise<{ status: number; ratelimit: string | undefined }[]> => {
    const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => (got += c));
    const heads = () => [...got.matchAll(/HTTP\/1\.1 (\d+)[^]*?\r\n\r\n/g)];
    for (const [i, r] of requests.entries()) {
      socket.write(r);
      await waitFor(() => heads().length > i, { timeoutMs: 10_000, message: `answer ${i + 1}` });
    }
    socket.destroy();
    return heads().map((m) => ({ status: Number(m[1]), ratelimit: /\r\nratelimit: ([^\r]*)/i.exec(m[0])?.[1] }));
  };
  /** The server's one data-plane worker (its node child running the worker script). */
  const workerPid = (): number => {
    const pid = server.child.pid!;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    const found = children.find((c) => { try { return readFileSync(`/proc/${c}/cmdline`, "utf8").includes("data-plane/worker.js"); } catch { return false; } });
    assert.ok(found, "the worker process");
    return found;
  };
  const apiCall = () => `GET /api/v1/me HTTP/1.1\r\nHost: x\r\nx-access-key: ${admin}\r\n\r\n`;
  const gatewayCall = (name: string) => `GET ${deployments[name]!.pathname}/flows HTTP/1.1\r\nHost: x\r\nx-access-key: ${admin}\r\n\r\n`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-limits-share-"));
    server = await startServer(dir, { FLOWPLANE_GATEWAY_WORKERS: "1" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    const project = (await api("POST", "/projects", { name: "limits" })).json.id as string;
    assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    for (const [name, limits] of [["rate", { deployment: { requestsPerSecond: 0.01, burst: 1 } }], ["concurrency", { deployment: { maxConcurrent: 1 }, perKey: { maxConcurrent: 1 } }]] as const) {
      const r = await api("POST", `/projects/${project}/deployments`, { displayName: name, bundle: { name: "echo", version: "1" }, networkAccess: "public", runtime: { limits } });
      assert.equal(r.status, 201, r.text);
      deployments[name] = new URL(r.json.endpoints.http as string);
    }
    // Ready, asked without spending the rate-limited deployment's one token.
    await waitFor(async () => (await onOneConnection([gatewayCall("concurrency")]))[0]!.status === 200, { timeoutMs: 60_000, intervalMs: 250, message: "the deployments serve" });
    await waitFor(async () => (await api("GET", `/projects/${project}/deployments`)).json.items.every((d: { status: { readyReplicas: number } }) => d.status.readyReplicas > 0),
      { timeoutMs: 60_000, intervalMs: 250, message: "every deployment has a ready replica" });
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
  });

  test("a deployment's rate limit is not met twice by opening connections with an API call", async () => {
    // The whole burst (1) through the worker: a connection whose first request is the gateway's.
    const direct = await onOneConnection([gatewayCall("rate"), gatewayCall("rate")]);
    assert.deepEqual(direct.map((a) => a.status), [200, 429]);
    // Then on a connection the control plane serves (an API call first): the same bucket, empty.
    const served = await onOneConnection([apiCall(), gatewayCall("rate"), gatewayCall("rate")]);
    assert.deepEqual(served.map((a) => a.status), [200, 429, 429], "before: 200, the control plane's own share");
    assert.match(served[1]!.ratelimit ?? "", /^"deployment";r=0;t=\d+$/);
  });

  test("a concurrency slot taken through the control plane is given back when its call ends", async () => {
    const served = await onOneConnection([apiCall(), ...Array.from({ length: 4 }, () => gatewayCall("concurrency"))]);
    assert.deepEqual(served.map((a) => a.status), [200, 200, 200, 200, 200]);
    assert.equal(served[1]!.ratelimit, '"deployment-concurrency";r=0, "key-concurrency";r=0');
    // And the worker's own calls find the slots free.
    await waitFor(async () => (await onOneConnection([gatewayCall("concurrency")]))[0]!.status === 200, { timeoutMs: 5_000, message: "the slots are free again" });
  });

  test("a worker that admits a call too late (after the control plane's 2 s) gives its slots back at once", async () => {
    const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => (got += c));
    const answers = () => [...got.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => Number(m[1]));
    socket.write(apiCall()); // the worker hands this connection to the control plane
    await waitFor(() => answers().length === 1, { timeoutMs: 10_000, message: "the API's answer" });
    const worker = workerPid();
    process.kill(worker, "SIGSTOP");
    try {
      // The control plane asks the stopped worker, waits 2 s, and decides with its own counters.
      socket.write(gatewayCall("concurrency"));
      await waitFor(() => answers().length === 2, { timeoutMs: 15_000, message: "the gateway call's answer" });
      assert.equal(answers()[1], 200);
    } finally {
      process.kill(worker, "SIGCONT");
    }
    socket.destroy();
    // The worker then reads the question and admits it: a ticket nobody waits for any more. It
    // is given back, so the worker's own callers find the slot free (before: 429 for ever).
    await new Promise((resolve) => setTimeout(resolve, 500));
    await waitFor(async () => (await onOneConnection([gatewayCall("concurrency")]))[0]!.status === 200, { timeoutMs: 5_000, message: "the worker's slot is free" });
  });
});
