import type { Command } from "commander";
import { describeLive } from "../live-text.js";
import type { Deployment, DeploymentEvent } from "@flowplane/core/api";
import { out } from "../io.js";
import { describeLimits, describeScaleToZero, describeTweaksPolicy } from "../limits-text.js";
import { age, keyValues, parseFormat, printData, table } from "../output.js";
import type { Session } from "../session.js";

const phaseOf = (d: Deployment) => (d.deletedAt ? "Undeployed" : d.status.phase);

/** One deployment for people: what it runs, how, where it answers, and its conditions. */
export function describeDeployment(d: Deployment, projectName: string): string {
  const s = d.status;
  const kv = keyValues([
    ["Name", `${d.displayName} (${d.resourceName})`],
    ["ID", d.id],
    ["Project", `${projectName} (${d.projectId})`],
    ["Bundle", `${d.bundle.name}@${d.bundle.version} (${d.bundle.digest})`],
    ["Phase", `${phaseOf(d)} (generation ${d.generation}, observed ${s.observedGeneration})`],
    ["Revision", String(d.revision)],
    ["Live revisions", describeLive(d.liveRevisions)],
    ["Replicas", `${s.readyReplicas}/${d.resources.replicas} ready`],
    ["Network", d.networkAccess],
    ["Runtime", `engine ${d.runtime.engine}, log level ${d.runtime.logLevel}, request timeout ${d.runtime.requestTimeoutSeconds}s`],
    ["Tweaks", describeTweaksPolicy(d.runtime.tweaksPolicy)],
    ["Inputs/outputs", d.runtime.io?.record ? `kept with traces, each value cut to ${d.runtime.io.maxChars} characters, credentials redacted` : "not kept"],
    ["Rate limits", describeLimits(d.runtime.limits)],
    ["Scale to zero", describeScaleToZero(d.runtime.scaleToZero)],
    ["Resources", `cpu ${d.resources.cpu.request}/${d.resources.cpu.limit}, memory ${d.resources.memory.request}/${d.resources.memory.limit} (request/limit)`],
    ["Parameters", Object.entries(d.parameters).map(([k, v]) => `${k}=${v}`).join(", ") || "(none)"],
    ["Credentials", Object.entries(d.credentials).map(([k, v]) => `${k}=${v}`).join(", ") || "(none)"],
    ["HTTP", d.endpoints.http],
    ["MCP", d.endpoints.mcp],
    ["Created", d.createdAt],
    ...(d.deletionRequestedAt ? [["Undeploy requested", d.deletionRequestedAt] as [string, string]] : []),
  ]);
  const conds = s.conditions.length === 0 ? "Conditions: none yet" : `Conditions:\n${table(["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"],
    s.conditions.map((c) => [c.type, c.status, c.reason, age(c.lastTransitionTime), c.message])).split("\n").map((l) => `  ${l}`).join("\n")}`;
  return `${kv}\n${conds}`;
}

export function registerInspectCommands(program: Command, session: Session): void {
  const io = session.io;
  program.command("list")
    .description("the project's deployments, newest first (undeployed ones are kept for audit: `get ID`, `events ID`)")
    .option("-o, --output <format>", "table, json, yaml or name", "table")
    .action(async (o: { output: string }) => {
      const format = parseFormat(o.output, ["table", "json", "yaml", "name"]);
      const project = await session.project();
      const items = (await (await session.client()).all("listDeployments", { params: { projectId: project.id } }));
      if (printData(io, format, items)) return;
      if (format === "name") return items.forEach((d) => out(io, d.displayName));
      if (items.length === 0) return out(io, `no deployments in project ${project.name}`);
      out(io, table(["NAME", "ID", "PHASE", "READY", "VERSION", "ENDPOINT"], items.map((d) => [
        d.displayName, d.id, phaseOf(d), `${d.status.readyReplicas}/${d.resources.replicas}`, `${d.bundle.name}@${d.bundle.version}`, d.endpoints.http,
      ])));
    });

  program.command("get")
    .argument("<deployment>", "name, resource name or id")
    .description("one deployment: settings, status, conditions and endpoints (credentials masked)")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string, o: { output: string }) => {
      const format = parseFormat(o.output);
      const { project, deployment } = await session.deployment(ref);
      if (!printData(io, format, deployment)) out(io, describeDeployment(deployment, project.name));
    });

  program.command("events")
    .argument("<deployment>", "name, resource name or id")
    .description("the deployment's events, oldest first: every phase change and every accepted change")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string, o: { output: string }) => {
      const format = parseFormat(o.output);
      const { deployment } = await session.deployment(ref);
      const client = await session.client();
      const events: DeploymentEvent[] = [];
      const seen = new Set<string>();
      let cursor: string | undefined;
      do {
        // The event list is a bare array; X-Next-Cursor says more follow.
        const page = await client.call("listDeploymentEvents", { params: { projectId: deployment.projectId, id: deployment.id }, query: { limit: 200, cursor } });
        events.push(...page.data);
        cursor = client.onwards(seen, page.headers.get("x-next-cursor") ?? undefined, "events");
      } while (cursor);
      if (printData(io, format, events)) return;
      out(io, table(["TIME", "TYPE", "REASON", "MESSAGE"], events.map((e) => [e.time, e.type, e.reason, e.message])));
    });

  program.command("manifests")
    .argument("<deployment>", "name, resource name or id")
    .description("the Kubernetes resources the deployment maps to, secret values redacted")
    .option("-o, --output <format>", "json or yaml", "json")
    .action(async (ref: string, o: { output: string }) => {
      const format = parseFormat(o.output, ["json", "yaml"]);
      const { deployment } = await session.deployment(ref);
      const manifests = await (await session.client()).do("getDeploymentManifests", { params: { projectId: deployment.projectId, id: deployment.id } });
      printData(io, format, manifests);
    });
}
