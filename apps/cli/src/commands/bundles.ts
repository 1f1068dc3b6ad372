import type { Command } from "commander";
import type { BundleVersion } from "@flowplane/core/api";
import { parseAssignments } from "../credentials.js";
import { usageError } from "../errors.js";
import { loadFlowFiles } from "../flow-files.js";
import { out } from "../io.js";
import { age, keyValues, parseFormat, printData, shownLine, table } from "../output.js";
import type { Session } from "../session.js";

const collect = (v: string, prev: string[] = []) => [...prev, v];

function engines(v: BundleVersion, nativeMissing: string): string {
  const lfx = v.compatibility.lfx;
  const lfxProblems = (lfx?.missing ?? []).map((m) => `${m.nodeId} (${m.type}): ${m.detail}`).join("; ");
  if (lfx && !lfx.supported) return v.compatibility.native.supported ? `native only; lfx cannot run ${lfxProblems}` : `none: native lacks ${nativeMissing}; lfx cannot run ${lfxProblems}`;
  return v.compatibility.native.supported ? `native and lfx (auto runs ${v.compatibility.recommendedEngine})` : `lfx only; native lacks ${nativeMissing} (auto runs ${v.compatibility.recommendedEngine})`;
}

/** A version for people: identity, flows, parameters (credentials marked) and which engine can run it. */
export function describeVersion(v: BundleVersion): string {
  const native = v.compatibility.native;
  const missing = [...new Set(native.missing.map((m) => m.type))].join(", ");
  const head = keyValues([
    ["Bundle", `${v.name}@${v.versionTag}`],
    ["Digest", v.digest],
    ["Description", v.description || "(none)"],
    ["Access", v.accessLevel === "global" ? "global" : `project (${v.allowedProjects.join(", ")})`],
    // A flow's name comes from its export (another team's, for a global bundle): one line, escapes visible.
    ["Flows", v.flows.map((f) => `${shownLine(f.name)} (${f.id})`).join(", ")],
    ["Engines", engines(v, missing)],
  ]);
  const params = v.parameters.length === 0 ? "Parameters: none" : `Parameters:\n${table(["NAME", "KIND", "DEFAULT", "USED BY"],
    v.parameters.map((p) => [p.name, p.kind, p.kind === "credential" ? "(required at deploy)" : p.kind === "model" ? (p.default ?? "(required at deploy: <provider>/<model>)") : (p.default ?? ""), p.usedBy.map((u) => `${u.nodeId}.${u.field}`).join(", ")]))
    .split("\n").map((l) => `  ${l}`).join("\n")}`;
  const warnings = v.warnings ?? [];
  const warned = warnings.length === 0 ? "" : `\nWarnings:\n${warnings.map((w) => `  ! ${shownLine(w.message)}`).join("\n")}`;
  return `${head}\n${params}${warned}`;
}

export function registerBundleCommands(program: Command, session: Session): void {
  const io = session.io;
  program.command("publish")
    .argument("<paths...>", "Langflow flow exports (.json files) or folders of them")
    .description("publish flows as a new version of a bundle in the Asset Library")
    .requiredOption("--name <name>", "bundle name (at most 64 characters; a new version if it exists)")
    .requiredOption("--tag <tag>", "version tag (at most 128 characters; not \"latest\")")
    .option("--description <text>", "description of this version")
    .option("--access <level>", "project (shared with the projects given by --share-with, default the current project) or global", "project")
    .option("--share-with <project>", "a project to share the version with (name or id); repeatable", collect)
    .option("--default <NAME=VALUE>", "publish default of a plain parameter; repeatable (credentials never have defaults)", collect)
    .option("-o, --output <format>", "table, json or yaml", "table")
    .addHelpText("after", `
Examples:
  flowplane publish flows/ --name support-bot --tag v1 --description "first cut"
  flowplane publish chat.json --name chat --tag 2024-06-01 --access global --default MODEL=gpt-4o-mini`)
    .action(async (paths: string[], o: { name: string; tag: string; description?: string; access: string; shareWith?: string[]; default?: string[]; output: string }) => {
      const format = parseFormat(o.output);
      const flows = await loadFlowFiles(paths);
      const client = await session.client();
      let allowedProjects: string[] | undefined;
      // The publishing project, whose owners and editors manage the version. For project access
      // the server takes the first shared project; a global bundle is published for the current
      // project (--project or the context's), or, without one, the server picks your only one.
      let projectId: string | undefined;
      if (o.access === "global" && (await session.target()).project !== undefined) projectId = (await session.project()).id;
      if (o.access === "project") {
        const refs = o.shareWith ?? [undefined];
        allowedProjects = [];
        for (const ref of refs) allowedProjects.push((await session.project(ref)).id);
      } else if (o.shareWith) {
        throw usageError("--share-with applies to --access project only; a global bundle is visible to every project");
      }
      const defaults = parseAssignments(o.default ?? [], "--default");
      const v = await client.do("publishBundle", { body: {
        name: o.name, versionTag: o.tag, accessLevel: o.access, flows,
        ...(o.description !== undefined ? { description: o.description } : {}),
        ...(allowedProjects ? { allowedProjects } : {}),
        ...(projectId ? { projectId } : {}),
        ...(Object.keys(defaults).length ? { defaults } : {}),
      } });
      if (printData(io, format, v)) return;
      out(io, `published ${v.name}@${v.versionTag} (${flows.length} flow${flows.length === 1 ? "" : "s"})\n${describeVersion(v)}`);
    });

  const bundles = program.command("bundles").description("browse the Asset Library");
  bundles.command("list")
    .description("the bundles you can see, with their newest version")
    .option("-o, --output <format>", "table, json, yaml or name", "table")
    .action(async (o: { output: string }) => {
      const format = parseFormat(o.output, ["table", "json", "yaml", "name"]);
      const items = await (await session.client()).all("listBundles", {});
      if (printData(io, format, items)) return;
      if (format === "name") return items.forEach((b) => out(io, b.name));
      out(io, table(["NAME", "LATEST", "VERSIONS", "ACCESS", "PUBLISHED", "DESCRIPTION"], items.map((b) => [
        b.name, b.latest.versionTag, String(b.versionCount), b.latest.accessLevel, age(b.latest.createdAt), b.latest.description,
      ])));
    });
  bundles.command("get")
    .argument("<bundle>", "NAME (every version) or NAME@VERSION (one version; `latest` names the newest)")
    .description("a bundle's versions, or one version's flows, parameters and engine compatibility")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string, o: { output: string }) => {
      const format = parseFormat(o.output);
      const client = await session.client();
      const at = ref.lastIndexOf("@");
      if (at > 0) {
        const v = await client.do("getBundleVersion", { params: { name: ref.slice(0, at), tag: ref.slice(at + 1) } });
        if (!printData(io, format, v)) out(io, describeVersion(v));
        return;
      }
      const b = await client.do("getBundle", { params: { name: ref } });
      if (printData(io, format, b)) return;
      out(io, `${table(["VERSION", "DIGEST", "ACCESS", "PUBLISHED", "DESCRIPTION"], b.versions.map((v) => [
        v.versionTag, `${v.digest.slice(0, 19)}…`, v.accessLevel, age(v.createdAt), v.description,
      ]))}\n\nNewest version:\n${describeVersion(b.versions[0]!)}`);
    });
}
