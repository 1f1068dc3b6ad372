import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createPgliteClient } from "@flowplane/store";
import { apiCaller, killAll, loadFixture, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { pidsMatching, startServer, type ServerProcess } from "./test-process.js";

/**
 * Crash test (issue #12 item 9), on the defaults: one process, PGlite in the data folder, the
 * local driver, 2 replicas of an LLM flow against the fake OpenAI server (which sees the key).
 * The control plane is SIGKILLed at 10 points of a deploy, two credential edits (rolling
 * restarts), a version change and an undeploy, and restarted each time on the same folder
 * and ports. Every time: the database opens, the deployment converges (Ready at the expected
 * generation, or gone), exactly the replicas asked for run (no orphan) and the state file
 * agrees, the flow sees the latest credential, the replicas kept running while the control
 * plane was down, and the gateway serves them from its first request after the restart.
 */
describe("crash and restart of the control plane (PGlite, one process)", { timeout: 480_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let llm: FakeOpenAI;
  let admin: string;
  let project: string;
  let dep: { id: string; resourceName: string; endpoints: { http: string } };
  let flowId: string;
  let kills = 0;
  const logs: string[] = [];

  const env = () => ({ FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl, FLOWPLANE_RESYNC_SECONDS: "2",
    // It counts replica processes through each rolling update; a warm replica of the revision
    // before (for instant rollback) would be one more, tested in live-revisions.e2e instead.
    FLOWPLANE_WARM_REVISION_SECONDS: "0",
    // What a timeout prints (diagnosis): the driver's "adopted replicas" and "replica started".
    FLOWPLANE_LOG_LEVEL: "info" });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Late-bound: the server restarts (same ports) and the admin key is read after the first start.
  const api = (method: string, path: string, body?: unknown) => apiCaller(server.url, admin)(method, path, body);
  type Dep = { generation: number; deletedAt: string | null; bundle: { version: string }; status: { phase: string; observedGeneration: number; readyReplicas: number } };
  const deployment = async (): Promise<Dep | null> => (await api("GET", `/projects/${project}/deployments/${dep.id}`).catch(() => null))?.json ?? null;
  const until = async <T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await probe().catch(() => null);
      if (v) return v;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; ${await diagnosis()}`);
      await sleep(25);
    }
  };
  const replicaPids = () => pidsMatching(`/${dep.resourceName}/`);
  /** Reconcile passes ended so far, by result, from /metrics: "" when it does not answer in 5 s. */
  const passes = async () => {
    const r = await fetch(`${server.privateUrl}/metrics`, { headers: { "x-access-key": admin }, signal: AbortSignal.timeout(5_000) }).catch(() => null);
    const text = r ? await r.text() : "";
    return text.split("\n").filter((l) => l.startsWith("flowplane_reconcile_duration_seconds_count")).join("; ") || "(no answer)";
  };
  /**
   * Why a wait timed out: what the control plane says of the deployment, whether its reconcile
   * passes still end (a pass that hangs, on a query or a driver step, ends no more), which
   * replica processes run and what the state file names, and the server's log (info level) but
   * its per-call lines. A rare timeout (the version change's surge replica, in 1 CI run of 4,
   * with nothing at warn level) is otherwise not explained.
   */
  const diagnosis = async () => {
    // Bounded: a pass that hangs on the database would hang this read too.
    const seen = dep ? await Promise.race([deployment().then((d) => JSON.stringify(d).slice(0, 2000)), sleep(5_000).then(() => "(no answer in 5 s)")]) : "(none yet)";
    const before = await passes();
    await sleep(2_000);
    const after = await passes();
    const pids = dep ? await replicaPids().catch(() => []) : [];
    const state = dep ? await readFile(join(dir, "deployments", dep.resourceName, "state.json"), "utf8").catch((e: Error) => e.message) : "";
    const log = server.out().split("\n").filter((l) => !/"msg":"(gateway request|incoming request|request completed)"/.test(l)).join("\n").slice(-8000);
    return `server ${server.child.exitCode === null ? "running" : `exited (${server.child.exitCode})`}; the deployment: ${seen}; reconcile passes ended: ${before}; 2 s later: ${after}; its replica processes: ${JSON.stringify(pids)}; state.json: ${state}; the server's log:\n${log}`;
  };
  /** Signals each process, skipping one gone since it was listed. */
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
      }
    }
  };
  const run = () => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, {
    method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" },
    body: JSON.stringify({ input_value: "ping", session_id: `s${Math.random()}` }), signal: AbortSignal.timeout(15_000),
  });

  /**
   * SIGKILL the control plane once `when` holds, check that the replicas outlive it, restart it
   * on the same folder and ports (the database must open), and, when replicas were serving,
   * check that the gateway's first request after the restart is served.
   */
  const crashWhen = async (point: string, when: () => Promise<boolean>, serving: boolean) => {
    await until(`kill point "${point}"`, when, 60_000);
    const before = await replicaPids();
    await server.kill();
    kills++;
    logs.push(server.out());
    const down = await replicaPids();
    // A replica the driver was draining may finish meanwhile; every other one keeps running.
    if (serving) assert.ok(down.length >= 2, `${point}: the replicas keep running while the control plane is down (${before.length} -> ${down.length})`);
    server = await startServer(dir, env(), { port: server.port, privatePort: server.privatePort });
    if (serving) {
      const r = await run();
      assert.equal(r.status, 200, `${point}: the gateway serves at once after the restart: ${await r.text()}`);
      await r.arrayBuffer().catch(() => undefined);
    }
  };

  /** Ready at `generation` with exactly 2 replica processes, the ones state.json names, all of that generation. */
  const converged = async (generation: number, point: string) => {
    await until(`${point}: Ready at generation ${generation}`, async () => {
      const d = await deployment();
      return d && d.status.phase === "Ready" && d.generation === generation && d.status.observedGeneration === generation && d.status.readyReplicas === 2;
    }, 90_000);
    // A drained replica may take its drain delay to exit: then exactly 2 are left, no orphan.
    const pids = await until(`${point}: exactly 2 replica processes`, async () => {
      const p = await replicaPids();
      return p.length === 2 && p;
    }, 30_000);
    const state = JSON.parse(await readFile(join(dir, "deployments", dep.resourceName, "state.json"), "utf8")) as { replicas: { pid: number; generation: number }[] };
    assert.deepEqual(state.replicas.map((x) => x.pid).sort(), [...pids].sort(), `${point}: state.json names the running replicas`);
    assert.ok(state.replicas.every((x) => x.generation === generation), `${point}: every replica is of generation ${generation}`);
  };

  /** The flow sees `key`: the fake OpenAI server records the Authorization header. */
  const seesKey = async (key: string) => {
    const r = await run();
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(((await r.json()) as { success: boolean }).success, true);
    assert.equal(llm.requests.at(-1)?.headers.authorization, `Bearer ${key}`, "no credential lost");
  };

  /** Bounded background load through the gateway; only HTTP answers other than 200 count as failures (a dead gateway is expected). */
  const load = { stop: false, ok: 0, down: 0, failures: [] as string[], workers: [] as Promise<void>[] };
  const startLoad = () => {
    const deadline = Date.now() + 200_000;
    const worker = async () => {
      while (!load.stop && Date.now() < deadline && load.ok + load.down < 20_000) {
        try {
          const r = await run();
          const text = await r.text();
          if (r.status === 200) load.ok++;
          else load.failures.push(`${r.status} ${text.slice(0, 200)}`);
        } catch {
          load.down++; // the gateway is in the killed process: refused or reset until it is back
          await sleep(20);
        }
      }
    };
    load.workers = [worker(), worker()];
  };

  const patch = async (body: unknown) => {
    const r = await api("PATCH", `/projects/${project}/deployments/${dep.id}`, body);
    assert.equal(r.status, 200, r.text);
    return r.json.generation as number;
  };
  /** True once the replica set holds at least `n` processes that were not in `old`. */
  const newProcesses = (old: number[], n: number) => async () => (await replicaPids()).filter((p) => !old.includes(p)).length >= n;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-crash-"));
    llm = await startFakeOpenAI();
    // Created here, without startServer's 60 s wait for the banner: PGlite's first creation of
    // a database can take longer than that on a busy 2-core machine. Every start below opens it.
    await (await createPgliteClient(join(dir, "pglite"))).close();
    server = await startServer(dir, env());
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "crash" })).json.id;
    for (const tag of ["v1", "v2"]) {
      const r = await api("POST", "/bundles", { name: "chat", versionTag: tag, accessLevel: "project", allowedProjects: [project], flows: [loadFixture("memory-chatbot")] });
      assert.equal(r.status, 201, r.text);
    }
  });

  after(async () => {
    load.stop = true;
    await Promise.all(load.workers);
    await server?.kill().catch(() => undefined);
    killAll(await pidsMatching(`/${dep?.resourceName ?? "none"}/`));
    await llm?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("deploy: killed right after the API answered, at the first spawn and before Ready; converges", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Chat", bundle: { name: "chat", version: "v1" }, networkAccess: "public",
      credentials: { OPENAI_API_KEY: "sk-crash-0-zq" }, resources: { replicas: 2 },
    });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await crashWhen("deploy: API answered", async () => true, false);
    // The replicas there are stopped (SIGSTOP) before this kill and go on (SIGCONT) at the next:
    // meanwhile they cannot answer /ready, as if their start were slow, so the restarted control
    // plane finds its deployment with replicas starting whatever the machine's speed. (Left to
    // run, they could be Ready before the restarted control plane's first answer, and the point
    // below was never reached: timed out twice in CI, the rest of the suite failing after it.)
    await crashWhen("deploy: first replica spawned", async () => {
      const pids = await replicaPids();
      signal(pids, "SIGSTOP");
      return pids.length >= 1;
    }, false);
    await crashWhen("deploy: replicas starting", async () => {
      const d = await deployment();
      const starting = (await replicaPids()).length >= 1 && d !== null && d.status.phase !== "Ready";
      if (starting) signal(await replicaPids(), "SIGCONT");
      return starting;
    }, false);
    await converged(1, "deploy");
    const flows = await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json() as { id: string }[];
    flowId = flows[0]!.id;
    await seesKey("sk-crash-0-zq");
    startLoad();
  });

  it("credential edit (rolling restart): killed right after the API answered and at the surge replica; converges with the new key", async () => {
    // The replicas before the change, read before the PATCH: the reconciler may spawn a new one
    // before the PATCH's answer is read, and a snapshot taken after would count it as old.
    const old = await replicaPids();
    const gen = await patch({ credentials: { OPENAI_API_KEY: "sk-crash-1-zq" } });
    await crashWhen("edit 1: API answered", async () => true, true);
    await crashWhen("edit 1: surge replica spawned", newProcesses(old, 1), true);
    await converged(gen, "edit 1");
    await seesKey("sk-crash-1-zq");
  });

  it("second credential edit: killed while the second new replica starts; converges with the newest key", async () => {
    const old = await replicaPids();
    const gen = await patch({ credentials: { OPENAI_API_KEY: "sk-crash-2-zq" } });
    await crashWhen("edit 2: second new replica spawned", newProcesses(old, 2), true);
    await converged(gen, "edit 2");
    await seesKey("sk-crash-2-zq");
  });

  it("version change: killed right after the API answered and at the surge replica; converges on v2", async () => {
    const old = await replicaPids();
    const gen = await patch({ bundle: { version: "v2" } });
    await crashWhen("version: API answered", async () => true, true);
    await crashWhen("version: surge replica spawned", newProcesses(old, 1), true);
    await converged(gen, "version");
    assert.equal((await deployment())!.bundle.version, "v2");
    await seesKey("sk-crash-2-zq");
  });

  it("under load, every answer the gateway gave between the crashes was a success", async () => {
    load.stop = true;
    await Promise.all(load.workers);
    assert.deepEqual(load.failures, [], `${load.failures.length} failed of ${load.ok + load.failures.length} answered`);
    assert.ok(load.ok > 50, `the load ran (${load.ok} served, ${load.down} while the gateway was down)`);
  });

  it("undeploy: killed right after the API answered and while replicas drain; everything is gone", async () => {
    assert.equal((await api("DELETE", `/projects/${project}/deployments/${dep.id}`)).status, 202);
    await crashWhen("undeploy: API answered", async () => true, false);
    await crashWhen("undeploy: draining", async () => (await replicaPids()).length < 2 || (await deployment())?.deletedAt != null, false);
    await until("undeploy finished", async () => (await deployment())?.deletedAt);
    assert.deepEqual(await replicaPids(), [], "no orphan replica");
    await assert.rejects(stat(join(dir, "deployments", dep.resourceName)), "the deployment folder is gone");
    assert.equal((await run()).status, 404);
    assert.ok(kills >= 10, `${kills} kills`);
    await server.stop();
    logs.push(server.out());
    const sql = await createPgliteClient(join(dir, "pglite"));
    try {
      assert.equal((await sql.query("SELECT 1 FROM deployment_credentials WHERE deployment_id = $1", [dep.id])).rows.length, 0, "credentials removed");
    } finally {
      await sql.close();
    }
    const all = logs.join("\n");
    for (const secret of ["sk-crash-0-zq", "sk-crash-1-zq", "sk-crash-2-zq", admin.slice(3)]) assert.ok(!all.includes(secret), "no credential or key in the logs");
  });
});
