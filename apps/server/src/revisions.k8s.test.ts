import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import { loadFixture } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * Issue #18's scenarios through the control plane's API on a real API server (kwok nodes):
 * `npm run test:k8s`. What the cluster must show for each: the warm revision's own Deployment
 * after an edit; a rollback restoring the earlier revision's credentials in the running template;
 * a canary as a second Deployment labelled with its revision, promote and abort; the kill switch
 * stopping every pod and enable bringing them back. (kwok's pods run no process, so calls through
 * the gateway are the local driver's e2e suite, live-revisions.e2e.test.ts.)
 */
describe("revisions, rollback, canary and kill switch on Kubernetes", { timeout: 600_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let key: string;
  let project: string;
  let dep: { id: string; resourceName: string };
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const env = { FLOWPLANE_DRIVER: "kubernetes", KUBECONFIG: process.env.KUBECONFIG!, FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_INSTALLATION: "revisions-e2e", FLOWPLANE_WARM_REVISION_SECONDS: "600" };

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${path}`, { method, headers: { "x-access-key": key, ...(body ? { "content-type": "application/json" } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const path = () => `/projects/${project}/deployments/${dep.id}`;
  const get = async () => (await api("GET", path())).json;
  const until = async <T>(what: string, probe: () => Promise<T | undefined | false>, ms = 180_000): Promise<T> => {
    const deadline = Date.now() + ms;
    let last: unknown;
    for (;;) {
      const v = await probe().catch((e: unknown) => { last = e; return undefined; });
      if (v) return v;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what} (${String(last ?? "")})`);
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  /** Ready at the generation asked, as many replicas ready as asked. */
  const settled = (generation: number, what: string) => until(what, async () => {
    const d = await get();
    return d.status.phase === "Ready" && d.status.observedGeneration === generation && d.status.readyReplicas === d.resources.replicas && d;
  });
  const deployments = async () => (await apps.listNamespacedDeployment({ namespace: dep.resourceName })).items;
  const secretValue = async (d: V1Deployment) => {
    const name = d.spec!.template.spec!.containers[0]!.envFrom![0]!.secretRef!.name!;
    return Buffer.from((await core.readNamespacedSecret({ name, namespace: dep.resourceName })).data!.OPENAI_API_KEY!, "base64").toString();
  };
  const readyPods = async (revision: number) => (await core.listNamespacedPod({ namespace: dep.resourceName })).items
    .filter((p) => !p.metadata?.deletionTimestamp && p.metadata?.labels?.["flowplane.io/revision"] === String(revision)
      && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;
  const live = (d: { liveRevisions: { revision: number; role: string; percent: number }[] }) => d.liveRevisions.map((l) => `${l.revision}:${l.role}:${l.percent}`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-k8s-revisions-"));
    server = await startServer(dir, env);
    key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "revisions" })).json.id;
    for (const tag of ["v1", "v2"]) {
      assert.equal((await api("POST", "/bundles", { name: "chat", versionTag: tag, accessLevel: "global", flows: [loadFixture("memory-chatbot")] })).status, 201);
    }
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Revisions on k8s", bundle: { name: "chat", version: "v1" }, networkAccess: "private",
      credentials: { OPENAI_API_KEY: "sk-rev-one" }, resources: { replicas: 2 },
    });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await settled(1, "revision 1 Ready");
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    if (dep) await core.deleteNamespace({ name: dep.resourceName }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it("an edit makes revision 2; revision 1 stays warm as its own Deployment of one pod, with its own Secret", async () => {
    const r = await api("PATCH", path(), { credentials: { OPENAI_API_KEY: "sk-rev-two" } });
    assert.equal(r.status, 200, r.text);
    const d = await settled(r.json.generation, "revision 2 rolled out");
    assert.equal(d.revision, 2);
    assert.deepEqual(live(d), ["2:current:100", "1:warm:0"]);
    const warm = await until("revision 1's Deployment", async () => (await deployments()).find((x) => x.metadata?.name === "runtime-r1"));
    assert.equal(warm.spec?.replicas, 1);
    assert.equal(warm.metadata?.labels?.["flowplane.io/revision"], "1");
    assert.equal(await secretValue(warm), "sk-rev-one", "the warm revision keeps the credentials it ran with");
    const current = (await deployments()).find((x) => x.metadata?.name === "runtime")!;
    assert.equal(await secretValue(current), "sk-rev-two");
    await until("revision 1's warm pod ready", async () => (await readyPods(1)) === 1);
    assert.equal(await readyPods(2), 2);
  });

  it("a rollback to 1 makes revision 3 with revision 1's credentials in the running template", async () => {
    const r = await api("POST", `${path()}/rollback`, { revision: 1 });
    assert.equal(r.status, 200, r.text);
    const d = await settled(r.json.generation, "revision 3 rolled out");
    assert.equal(d.revision, 3);
    const current = (await deployments()).find((x) => x.metadata?.name === "runtime")!;
    assert.equal(await secretValue(current), "sk-rev-one", "credentials restored too");
    const rev = (await api("GET", `${path()}/revisions/3`)).json;
    assert.equal(rev.cause, "rollback");
    assert.equal(rev.rolledBackTo, 1);
    assert.ok(!JSON.stringify(rev).includes("sk-rev"), "a revision never shows a credential value");
  });

  it("a canary of v2 at 10% runs as a second Deployment labelled with its revision; promote gives it all", async () => {
    const r = await api("PATCH", path(), { bundle: { version: "v2" }, canary: { percent: 10 } });
    assert.equal(r.status, 200, r.text);
    const canary = r.json.revision as number;
    let seen = "";
    const d = await until("both revisions of the canary ready", async () => {
      const x = await get();
      const pods = (await core.listNamespacedPod({ namespace: dep.resourceName })).items.map((p) => `${p.metadata?.name}@${p.metadata?.labels?.["flowplane.io/revision"]}:${p.status?.phase}`);
      seen = `${live(x).join(" ")} | ${pods.join(" ")} | ${(await deployments()).map((y) => `${y.metadata?.name}@${y.metadata?.labels?.["flowplane.io/revision"]}x${y.spec?.replicas}`).join(" ")}`;
      // The stable revision 3 is a rollback to 1: its replicas are revision 1's (`runs`).
      const stable = x.liveRevisions.find((l: { role: string }) => l.role === "stable");
      return stable && (await readyPods(canary)) > 0 && (await readyPods(stable.runs)) > 0 && x;
    }, 60_000).catch((e: Error) => assert.fail(`${e.message}: ${seen}`));
    assert.deepEqual(live(d).slice(0, 2), [`${canary}:current:10`, `${canary - 1}:stable:90`]);
    const byRevision = new Map((await deployments()).map((x) => [x.metadata?.labels?.["flowplane.io/revision"], x]));
    assert.equal(byRevision.get(String(canary))?.spec?.template.metadata?.annotations?.["flowplane.io/bundle"], "chat@v2");
    const stable = d.liveRevisions[1];
    assert.equal(stable.runs, 1, "revision 3 runs on revision 1's replicas");
    assert.equal(byRevision.get("1")?.metadata?.name, "runtime-r1", "the stable revision keeps its own Deployment");
    assert.equal((await api("POST", `${path()}/canary`, { percent: 30 })).status, 200);
    assert.equal((await get()).liveRevisions[0].percent, 30);
    assert.equal((await api("POST", `${path()}/promote`)).status, 200);
    const promoted = await until("promoted", async () => { const x = await get(); return x.liveRevisions[0].percent === 100 && x; });
    assert.equal(promoted.revision, canary);
    assert.equal(promoted.liveRevisions[0].role, "current");
    await until("v2 runs at the replica count", async () => (await readyPods(canary)) === 2);
    assert.equal((await api("POST", `${path()}/promote`)).status, 409, "nothing to promote");
  });

  it("a canary aborted: the deployment goes back to the stable revision's content; the canary keeps one warm pod", async () => {
    const before = await get();
    const r = await api("PATCH", path(), { credentials: { OPENAI_API_KEY: "sk-rev-canary" }, canary: { percent: 20 } });
    assert.equal(r.status, 200, r.text);
    const canary = r.json.revision as number;
    await until("the canary's pod ready", async () => (await readyPods(canary)) > 0);
    const aborted = await api("POST", `${path()}/abort`);
    assert.equal(aborted.status, 200, aborted.text);
    const d = await settled(aborted.json.generation, "back on the stable revision");
    assert.ok(d.revision > canary, "an abort is a rollback: a new revision");
    // Like any revision a change leaves, the aborted canary stays warm (0%, one replica) for the grace period.
    assert.deepEqual(live(d), [`${d.revision}:current:100`, `${canary}:warm:0`]);
    const current = (await deployments()).find((x) => x.metadata?.name === "runtime")!;
    assert.equal(await secretValue(current), "sk-rev-one", "the stable revision's credentials");
    await until("the canary down to its one warm pod", async () => (await readyPods(canary)) === 1);
    assert.equal(before.bundle.version, d.bundle.version);
  });

  it("the kill switch with stopReplicas stops every pod; enable brings them back and Ready", async () => {
    const r = await api("POST", `${path()}/disable`, { stopReplicas: true });
    assert.equal(r.status, 200, r.text);
    await until("every Deployment at 0", async () => (await deployments()).every((x) => (x.spec?.replicas ?? 0) === 0));
    await until("no pod left", async () => (await core.listNamespacedPod({ namespace: dep.resourceName })).items.filter((p) => !p.metadata?.deletionTimestamp).length === 0);
    const disabled = await get();
    assert.equal(disabled.disabled?.stopReplicas, true);
    assert.equal((await api("POST", `${path()}/enable`)).status, 200);
    const d = await settled(disabled.generation, "Ready after enable");
    assert.equal(d.disabled, null);
    assert.equal(d.status.readyReplicas, 2);
  });
});
