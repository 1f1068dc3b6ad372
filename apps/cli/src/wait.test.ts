import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import type { Deployment } from "@flowplane/core/api";
import type { ApiClient } from "./client.js";
import { CliError, Exit } from "./errors.js";
import { createIo } from "./io.js";
import { parseDuration, waitFor } from "./wait.js";

const base: Deployment = {
  id: "d1", projectId: "p1", displayName: "Chat", resourceName: "chat-x", appId: "a1", createdBy: "u1", bundle: { name: "chat", version: "v1", digest: "sha256:0" },
  networkAccess: "public", runtime: { engine: "auto", logLevel: "info", requestTimeoutSeconds: 60, limits: { deployment: { requestsPerSecond: null, burst: null, maxConcurrent: null }, perKey: { requestsPerSecond: null, burst: null, maxConcurrent: null } }, scaleToZero: { idleMinutes: null, wakeTimeoutSeconds: 60 }, io: { record: false, maxChars: 2048 }, tweaksPolicy: "permissive" }, parameters: {}, credentials: {},
  resources: { replicas: 1, cpu: { request: "500m", limit: "1000m" }, memory: { request: "512Mi", limit: "1Gi" } },
  generation: 2, revision: 2, status: { phase: "Ready", observedGeneration: 1, readyReplicas: 1, conditions: [] },
  endpoints: { http: "", mcp: "" }, createdAt: "", updatedAt: "", deletionRequestedAt: null, deletedAt: null, disabled: null, liveRevisions: [],
};
const at = (phase: Deployment["status"]["phase"], observedGeneration: number, extra: Partial<Deployment> = {}): Deployment =>
  ({ ...base, ...extra, status: { ...base.status, phase, observedGeneration } });

/** A client answering the given states in turn (the last one repeats). */
function scripted(states: Deployment[]): ApiClient {
  let i = 0;
  return { do: async () => states[Math.min(i++, states.length - 1)] } as unknown as ApiClient;
}

function capture() {
  const stderr = new PassThrough();
  let text = "";
  stderr.on("data", (b: Buffer) => (text += b.toString()));
  return { io: createIo({ stdin: new PassThrough(), stdout: new PassThrough(), stderr }, {}, "/"), text: () => text };
}

describe("--wait", () => {
  it("is not fooled by the previous generation's Ready: it waits for the new generation", async () => {
    const c = capture();
    const d = await waitFor(c.io, scripted([at("Updating", 2), at("Ready", 2)]), at("Ready", 1), { until: "ready", timeoutMs: 5000, pollMs: 1 });
    assert.equal(d.status.observedGeneration, 2);
    assert.equal(c.text().trim().split("\n").length, 3, "one line per change when not a terminal");
    assert.match(c.text(), /Updating .*generation 2 \(observed 2\)/);
  });

  it("ignores a Failed phase left from an older generation while the new one rolls out", async () => {
    const d = await waitFor(capture().io, scripted([at("Starting", 1), at("Ready", 2)]), at("Failed", 1), { until: "ready", timeoutMs: 5000, pollMs: 1 });
    assert.equal(d.status.phase, "Ready");
  });

  it("stops on Failed at the current generation with the reason and exit code 7", async () => {
    const failed = { ...at("Failed", 2), status: { ...at("Failed", 2).status, conditions: [
      { type: "BundleResolved", status: "True" as const, reason: "Pinned", message: "", lastTransitionTime: "" },
      { type: "RuntimeAvailable", status: "False" as const, reason: "FlowLoadFailed", message: "component X is unknown", lastTransitionTime: "" },
    ] } };
    await assert.rejects(waitFor(capture().io, scripted([failed]), at("Starting", 1), { until: "ready", timeoutMs: 5000, pollMs: 1 }),
      (e: CliError) => e.exitCode === Exit.deployment && /failed: FlowLoadFailed: component X is unknown/.test(e.message));
  });

  it("times out with exit code 7 and the last status", async () => {
    await assert.rejects(waitFor(capture().io, scripted([at("Starting", 1)]), at("Starting", 1), { until: "ready", timeoutMs: 20, pollMs: 1 }),
      (e: CliError) => e.exitCode === Exit.deployment && /timed out .* last status: Starting/.test(e.message));
  });

  it("for undeploy, waits until the record says deleted", async () => {
    const gone = at("Deleting", 2, { deletedAt: "2024-01-01T00:00:00Z" });
    const d = await waitFor(capture().io, scripted([at("Deleting", 1), gone]), at("Deleting", 1), { until: "gone", timeoutMs: 5000, pollMs: 1 });
    assert.equal(d.deletedAt, "2024-01-01T00:00:00Z");
  });

  it("reads durations in ms, s, m and h, plain numbers as seconds", () => {
    assert.equal(parseDuration("90", "--wait-timeout"), 90_000);
    assert.equal(parseDuration("1.5m", "--wait-timeout"), 90_000);
    assert.equal(parseDuration("250ms", "--wait-timeout"), 250);
    assert.throws(() => parseDuration("soon", "--wait-timeout"), (e: CliError) => e.exitCode === Exit.usage);
  });
});
