import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LangflowClient } from "@datastax/langflow-client";
import { LangflowError } from "@datastax/langflow-client/errors";
import { FILE_FLOW_ID, apiCaller, fileToChatOutput, loadStarters, startServer, startersSkipReason, waitFor, type ServerProcess } from "@flowplane/testkit";

/**
 * Langflow's uploads through the real server and gateway, with Langflow's own JavaScript client
 * (`files.upload`: POST /api/v2/files; `flow.uploadFile`: POST /api/v1/files/upload/{flow_id}),
 * then a run whose Read File (the starters' own File node) reads the upload, named in a tweak as
 * Langflow's clients do. Under the local driver's sandbox (CI) the file lands in the replica's
 * own tmpfs, not on the machine's disk.
 */
const skip = startersSkipReason();

describe("uploads and Read File through the gateway (e2e)", { skip, timeout: 300_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let http: string;
  let fileNode: string;
  let workRoot: string;

  before(async () => {
    const derived = fileToChatOutput(loadStarters())!;
    fileNode = derived.fileNodeId;
    dir = await mkdtemp(join(tmpdir(), "flowplane-uploads-"));
    workRoot = `${dir}-run`;
    server = await startServer(dir, { FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_RUNTIME_WORK_DIR: workRoot, FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    const api = apiCaller(server.url, admin);
    const project = (await api("POST", "/projects", { name: "uploads" })).json.id as string;
    assert.equal((await api("POST", "/bundles", { name: "reader", versionTag: "1", accessLevel: "global", flows: [derived.raw] })).status, 201);
    const dep = await api("POST", `/projects/${project}/deployments`, { displayName: "Reader", bundle: { name: "reader", version: "1" }, networkAccess: "public", runtime: { engine: "native" } });
    assert.equal(dep.status, 201, dep.text);
    http = dep.json.endpoints.http as string;
    await waitFor(async () => (await api("GET", `/projects/${project}/deployments/${dep.json.id}`)).json.status.phase === "Ready", { timeoutMs: 120_000, intervalMs: 200, message: "Ready" });
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(workRoot, { recursive: true, force: true });
  });

  const lf = () => new LangflowClient({ baseUrl: http, apiKey: admin });
  /** Read File's `path` is a list (Langflow's FileInput), which the client's tweak type does not spell. */
  const pathTweak = (path: string) => ({ path: [path] }) as unknown as Record<string, string>;
  const textOf = async (path: string) => (await lf().flow(FILE_FLOW_ID).tweak(fileNode, pathTweak(path)).run("read it")).chatOutputText();

  it("files.upload (v2), then a run that reads it", async () => {
    const up = await lf().files.upload(new File(["# Q3\nRevenue up.\n"], "report.md", { type: "text/markdown" }));
    assert.equal(up.name, "report");
    assert.equal(up.size, 17);
    assert.match(up.path, /\/flowplane-files\/.+\/report\.md$/);
    assert.equal(await textOf(up.path), "# Q3\nRevenue up.\n");
  });

  it("flow.uploadFile (v1), then a run that reads it", async () => {
    const up = await lf().flow(FILE_FLOW_ID).uploadFile(new File(["a,b\n1,2\n"], "table.csv", { type: "text/csv" }));
    assert.equal(up.flowId, FILE_FLOW_ID);
    assert.match(up.filePath, /\/flowplane-files\/[^/]+\/[^/]+_table\.csv$/, "Langflow's v1 name: the upload's time, then its name");
    assert.equal(await textOf(up.filePath), "a,b\n1,2\n");
  });

  it("a hostile file name is Langflow's 400; a tweak naming a file outside the folder reads nothing", async () => {
    const err = await lf().files.upload(new File(["x"], "../../etc/passwd")).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LangflowError && err.cause.status === 400, String(err));
    const outside = await lf().flow(FILE_FLOW_ID).tweak(fileNode, pathTweak("/etc/passwd")).run("x").then(() => undefined, (e: unknown) => e);
    assert.ok(outside instanceof LangflowError && outside.cause.status === 500, String(outside));
    assert.doesNotMatch(JSON.stringify(await outside.cause.json()), /root:/);
  });

  it("under the sandbox the uploads are in the replica's own tmpfs, not in its folder on the machine's disk", { skip: !existsSync("/usr/bin/bwrap") && "no bubblewrap here" }, async () => {
    const folders = await readdir(workRoot);
    assert.equal(folders.length, 1, folders.join(","));
    assert.deepEqual(await readdir(join(workRoot, folders[0]!)), []);
  });
});
