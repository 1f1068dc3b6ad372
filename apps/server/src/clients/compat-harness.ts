import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiCaller, killAll, loadFixture, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { pidsMatching, startServer, type ServerProcess } from "../test-process.js";

/**
 * One real flowplane server (the `flowplane-server` process), a machine user with a viewer role,
 * a published bundle, and one deployment per engine, Ready, behind the real gateway. The LLM is
 * testkit's fake OpenAI server (it answers `Echo: <last user message>`, and fails on `[[fail]]`).
 */
export type Engine = "native" | "lfx";

export interface DeploymentUnderTest {
  engine: Engine;
  id: string;
  resourceName: string;
  endpoints: { http: string; mcp: string };
}

export interface CompatWorld {
  server: ServerProcess;
  llm: FakeOpenAI;
  /** A machine user's key with the viewer role in the deployments' project. */
  key: string;
  deployments: Record<Engine, DeploymentUnderTest>;
  close(): Promise<void>;
}

/** The Memory Chatbot export (Langflow's own template, as exported). */
export const CHAT_FLOW = "abdc8216-e400-48c4-8d11-0f21441b50ea";
export const CHAT_OUTPUT = "ChatOutput-2ljRT";
export const LLM_NODE = "LanguageModelComponent-n8KRg";
/** The same flow, its Chat Output's sender name bound to the plain global variable BOT_NAME. */
export const NAMED_FLOW = "5b0c3c4e-0f55-4d7e-9a55-b07a1e1f0a01";

function namedFlow(): unknown {
  const flow = structuredClone(loadFixture("memory-chatbot")) as { id: string; name: string; endpoint_name?: string; data: { nodes: { id: string; data: { node: { template: Record<string, Record<string, unknown>> } } }[] } };
  flow.id = NAMED_FLOW;
  flow.name = "Named Chatbot";
  flow.endpoint_name = "named-chatbot";
  const output = flow.data.nodes.find((n) => n.id === CHAT_OUTPUT)!;
  Object.assign(output.data.node.template.sender_name!, { value: "BOT_NAME", load_from_db: true });
  return flow;
}

export async function startCompatWorld(engines: readonly Engine[]): Promise<CompatWorld> {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-clients-"));
  const llm = await startFakeOpenAI();
  const passthrough = ["OPENAI_API_BASE", ...(process.env.FLOWPLANE_LFX_BIN ? ["FLOWPLANE_LFX_BIN"] : [])];
  const server = await startServer(dir, {
    FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: passthrough.join(","), OPENAI_API_BASE: llm.baseUrl, FLOWPLANE_RESYNC_SECONDS: "2",
    ...(process.env.FLOWPLANE_LFX_BIN ? { FLOWPLANE_LFX_BIN: process.env.FLOWPLANE_LFX_BIN } : {}),
  });
  const admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
  const api = apiCaller(server.url, admin);
  const resourceNames: string[] = [];
  const close = async () => {
    await server.kill().catch(() => undefined);
    for (const name of resourceNames) killAll(await pidsMatching(`/${name}/`));
    await llm.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const project = (await api("POST", "/projects", { name: "clients" })).json.id as string;
    const bot = (await api("POST", "/users", { name: "client-app", kind: "machine" })).json.id as string;
    assert.equal((await api("PUT", `/projects/${project}/members/${bot}`, { role: "viewer" })).status, 200);
    const key = (await api("POST", `/users/${bot}/access-keys`, { expiresInDays: 1 })).json.key as string;
    const pub = await api("POST", "/bundles", { name: "clients", versionTag: "v1", accessLevel: "project", allowedProjects: [project], flows: [loadFixture("memory-chatbot"), namedFlow()] });
    assert.equal(pub.status, 201, pub.text);
    const deployments = {} as Record<Engine, DeploymentUnderTest>;
    for (const engine of engines) {
      const r = await api("POST", `/projects/${project}/deployments`, {
        displayName: `Clients ${engine}`, bundle: { name: "clients", version: "v1" }, networkAccess: "public",
        runtime: { engine }, parameters: { BOT_NAME: "Deployed Bot" }, credentials: { OPENAI_API_KEY: "sk-deployed" },
      });
      assert.equal(r.status, 201, r.text);
      resourceNames.push(r.json.resourceName);
      deployments[engine] = { engine, id: r.json.id, resourceName: r.json.resourceName, endpoints: r.json.endpoints };
    }
    // Both roll out at once; lfx takes longer to start.
    for (const d of Object.values(deployments)) {
      const deadline = Date.now() + 240_000;
      for (;;) {
        const s = (await api("GET", `/projects/${project}/deployments/${d.id}`)).json as { status: { phase: string; conditions?: unknown } };
        if (s.status.phase === "Ready") break;
        if (s.status.phase === "Failed" || Date.now() > deadline) assert.fail(`deployment on ${d.engine} not Ready: ${JSON.stringify(s.status)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return { server, llm, key, deployments, close };
  } catch (err) {
    await close();
    throw err;
  }
}
