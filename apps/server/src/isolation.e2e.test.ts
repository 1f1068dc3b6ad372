import assert from "node:assert/strict";
import { chmod, lstat, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { lfxSkipReason } from "@flowplane/engine-lfx";
import { apiCaller, killAll, loadFixture, replicaPidsOf } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * The control plane's data folder against what runs in a replica, through the real server
 * process: its modes (0700 folders, 0600 files, fixed at start on an old folder), and a flow
 * on the lfx engine whose component's Python tries to read the admin key, the secret key, the
 * database and another deployment's files (a Langflow component runs arbitrary Python by design).
 */
const lfxSkip = lfxSkipReason(process.env);
const isRoot = process.getuid?.() === 0;

/** Every path under `dir` whose mode is not 0700 (folders) or 0600 (files). */
async function looseModes(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string) => {
    const st = await lstat(p);
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o7777) !== want) out.push(`${p}: ${(st.mode & 0o7777).toString(8)}`);
    if (st.isDirectory()) for (const e of await readdir(p)) await walk(join(p, e));
  };
  await walk(dir);
  return out;
}

/** simple-chat-no-llm whose Chat Output answers what its Python could read instead of the input. */
function probeFlow(paths: string[]): unknown {
  const flow = loadFixture("simple-chat-no-llm") as unknown as { data: { nodes: { data: { type: string; node: { template: { code: { value: string } } } } }[] } };
  const output = flow.data.nodes.find((n) => n.data.type === "ChatOutput")!;
  const code = output.data.node.template.code;
  const call = "text = self.convert_to_string()";
  assert.equal(code.value.split(call).length, 2, "the Chat Output's code has the line the probe replaces");
  const probe = `import json as _fp_json
import os as _fp_os


def _flowplane_probe():
    out = []
    for p in _fp_json.loads(${JSON.stringify(JSON.stringify(paths))}):
        try:
            if _fp_os.path.isdir(p):
                _fp_os.listdir(p)
            else:
                with open(p, "rb") as f:
                    f.read()
            out.append(p + "=READ")
        except Exception as e:
            out.append(p + "=" + type(e).__name__)
    try:
        mine = _fp_os.path.join(_fp_os.environ["HOME"], "probe.txt")
        with open(mine, "w") as f:
            f.write("writable")
        with open(mine) as f:
            out.append("home=" + f.read())
    except Exception as e:
        out.append("home=" + type(e).__name__)
    out.append("uid=" + str(_fp_os.getuid()))
    return "\\n".join(out)


`;
  code.value = probe + code.value.replace(call, "text = _flowplane_probe()");
  return flow;
}

describe("the data folder against the replicas (e2e)", { timeout: 600_000 }, () => {
  let dir: string;
  let work: string;
  let server: ServerProcess;
  let admin: string;
  let project: string;
  const env = () => ({ FLOWPLANE_RUNTIME_WORK_DIR: work, FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true", FLOWPLANE_RESYNC_SECONDS: "2" });
  // Late-bound: the server restarts and the admin key is read after the first start.
  const api = (method: string, path: string, body?: unknown) => apiCaller(server.url, admin)(method, path, body);
  type Dep = { id: string; resourceName: string; endpoints: { http: string }; status: { phase: string; conditions: { type: string; status: string; reason: string; message: string }[] } };
  const waitReady = async (id: string, ms = 240_000): Promise<Dep> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const d = (await api("GET", `/projects/${project}/deployments/${id}`)).json as Dep;
      if (d.status.phase === "Ready") return d;
      if (d.status.phase === "Failed" || Date.now() > deadline) assert.fail(`not Ready: ${JSON.stringify(d.status)}\n${server.out()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const deploy = async (bundle: string, engine: "native" | "lfx"): Promise<Dep> => {
    const r = await api("POST", `/projects/${project}/deployments`, { displayName: bundle, bundle: { name: bundle, version: "1" }, networkAccess: "public", runtime: { engine } });
    assert.equal(r.status, 201, r.text);
    return waitReady(r.json.id);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-iso-e2e-"));
    work = await mkdtemp(join(tmpdir(), "flowplane-iso-e2e-work-"));
    server = await startServer(dir, env());
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "iso" })).json.id;
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it("a fresh data folder is 0700 with every file 0600 (database files included)", async () => {
    assert.deepEqual(await looseModes(dir), []);
    assert.ok((await readdir(join(dir, "pglite"))).length > 0);
  });

  it("names the replicas' isolation in the start banner", () => {
    assert.match(server.out(), /isolation: (sandbox|user) - /);
  });

  it("an lfx component's Python cannot read the admin key, the secret key, the database or another deployment's files", { skip: lfxSkip }, async () => {
    assert.equal((await api("POST", "/bundles", { name: "plain", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const other = await deploy("plain", "native");
    const targets = [
      join(dir, "admin.key"), join(dir, "secret.key"), join(dir, "pglite"), join(dir, "pglite", "PG_VERSION"),
      join(dir, "deployments", other.resourceName), join(dir, "deployments", other.resourceName, "state.json"),
      join(work, other.resourceName),
    ];
    const published = await api("POST", "/bundles", { name: "probe", versionTag: "1", accessLevel: "global", flows: [probeFlow(targets)] });
    assert.equal(published.status, 201, published.text);
    const probe = await deploy("probe", "lfx");
    const flows = (await (await fetch(`${probe.endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[];
    const r = await fetch(`${probe.endpoints.http}/flows/${flows[0]!.id}/run`, {
      method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" }, body: JSON.stringify({ input_value: "probe" }),
    });
    const body = (await r.json()) as { success: boolean; result: string };
    assert.equal(body.success, true, JSON.stringify(body));
    const seen = new Map(body.result.split("\n").map((l) => [l.slice(0, l.lastIndexOf("=")), l.slice(l.lastIndexOf("=") + 1)]));
    assert.equal(seen.get("home"), "writable", "the probe ran, and the replica writes its own working folder");
    for (const t of targets) assert.match(seen.get(t) ?? "missing", /^(FileNotFoundError|PermissionError)$/, `${t}: ${seen.get(t)}`);
    if (isRoot) assert.notEqual(seen.get("uid"), "0", "the flow does not run as root");

    const isolated = probe.status.conditions.find((c) => c.type === "Isolated");
    assert.equal(isolated?.status, "True", JSON.stringify(isolated));
    assert.match(isolated?.reason ?? "", /^(Sandboxed|SeparateUser)$/);
    if (process.env.CI === "true") assert.equal(isolated?.reason, "Sandboxed");
  });

  it("a data folder made 0777 with a 0666 file is brought to 0700/0600 at the next start", async () => {
    assert.ok(await server.stop() === 0);
    await chmod(dir, 0o777);
    await chmod(join(dir, "pglite"), 0o777);
    await writeFile(join(dir, "notes.txt"), "left by someone", { mode: 0o666 });
    await chmod(join(dir, "notes.txt"), 0o666);
    await chmod(join(dir, "admin.key"), 0o644);
    assert.notDeepEqual(await looseModes(dir), []);
    server = await startServer(dir, env());
    assert.deepEqual(await looseModes(dir), []);
  });
});
