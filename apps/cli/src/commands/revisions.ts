import type { Command } from "commander";
import type { Revision, RevisionDiff } from "@flowplane/core/api";
import { describeLive } from "../live-text.js";
import { usageError } from "../errors.js";
import { out } from "../io.js";
import { age, parseFormat, printData, table } from "../output.js";
import type { Session } from "../session.js";
import { addWaitOptions, maybeWait, type WaitFlags } from "./wait-options.js";

const target = (c: Command) => c.argument("<deployment>", "name, resource name or id");

/** `3`, `r3` or `#3` → 3; anything else is a usage error naming the argument. */
function revisionNumber(value: string, what: string): number {
  const m = /^[r#]?(\d{1,9})$/i.exec(value.trim());
  if (!m || Number(m[1]) < 1) throw usageError(`${what} ${value}: give a revision number such as 2`);
  return Number(m[1]);
}

/** What a revision is, in a few words: "rolled back to 1", "deployed", or the fields it changed. */
export function revisionSummary(r: Revision): string {
  if (r.cause === "rollback") return `rolled back to ${r.rolledBackTo}: ${r.changes.join(", ")}`;
  if (r.cause === "deploy") return "deployed";
  if (r.cause === "adopted") return "state when revisions began";
  return r.changes.join(", ");
}

/** A diff for people: one line per difference; credentials by name only. */
export function describeDiff(d: RevisionDiff): string {
  const lines: string[] = [];
  const show = (v: string | null) => (v === null ? "(none)" : v);
  if (d.bundle) lines.push(`version              ${d.bundle.from} -> ${d.bundle.to}`);
  for (const p of d.parameters) lines.push(`parameter ${p.name}: ${show(p.from)} -> ${show(p.to)}`);
  for (const n of d.credentials.added) lines.push(`credential ${n}: added`);
  for (const n of d.credentials.removed) lines.push(`credential ${n}: removed`);
  for (const n of d.credentials.changed) lines.push(`credential ${n}: value changed`);
  for (const r of d.runtime) lines.push(`runtime ${r.name}: ${show(r.from)} -> ${show(r.to)}`);
  for (const r of d.resources) lines.push(`resources ${r.name}: ${show(r.from)} -> ${show(r.to)}`);
  return lines.length ? `revision ${d.from} -> ${d.to}\n${lines.map((l) => `  ${l}`).join("\n")}` : `revisions ${d.from} and ${d.to} run the same`;
}

/** revisions (list, diff) and rollback: a deployment's history, and going back in it. */
export function registerRevisionCommands(program: Command, session: Session): void {
  const io = session.io;
  const revisions = target(program.command("revisions"))
    .description("the deployment's revisions, newest first: who changed what and when (credential names only)")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string, o: { output: string }) => {
      const format = parseFormat(o.output);
      const { deployment } = await session.deployment(ref);
      const items = await (await session.client()).all("listDeploymentRevisions", { params: { projectId: deployment.projectId, id: deployment.id } });
      if (printData(io, format, items)) return;
      out(io, table(["REVISION", "AGE", "BY", "VERSION", "CHANGES"], items.map((r) => [
        `${r.revision}${r.revision === deployment.revision ? " (current)" : ""}`, age(r.createdAt), r.createdBy.name, `${r.bundle.name}@${r.bundle.version}`, revisionSummary(r),
      ])));
    });
  target(revisions.command("diff"))
    .argument("<from>", "a revision number")
    .argument("<to>", "another revision number")
    .description("what differs between two revisions: version, parameter values, credential names, runtime, CPU/memory (-o json|yaml as for revisions)")
    // `-o` is the parent's option: commander gives an option after the subcommand's arguments to the parent.
    .action(async (ref: string, from: string, to: string) => {
      const format = parseFormat((revisions.opts() as { output: string }).output);
      const query = { from: revisionNumber(from, "<from>"), to: revisionNumber(to, "<to>") };
      const { deployment } = await session.deployment(ref);
      const d = await (await session.client()).do("diffDeploymentRevisions", { params: { projectId: deployment.projectId, id: deployment.id }, query });
      if (!printData(io, format, d)) out(io, describeDiff(d));
    });

  addWaitOptions(target(program.command("rollback")), "ready")
    .argument("<revision>", "the revision to restore (its version, parameters, credentials, runtime, CPU/memory)")
    .description("restore an earlier revision as a new revision (a rolling update; old replicas serve until new ones are ready)")
    .option("-o, --output <format>", "table, json or yaml (the deployment after the change)", "table")
    .action(async (ref: string, revision: string, o: WaitFlags & { output: string }) => {
      const format = parseFormat(o.output);
      const n = revisionNumber(revision, "<revision>");
      const { deployment } = await session.deployment(ref);
      const client = await session.client();
      let d = await client.do("rollbackDeployment", { params: { projectId: deployment.projectId, id: deployment.id }, body: { revision: n } });
      if (format === "table") out(io, `deployment "${d.displayName}": rolled back to revision ${n} as revision ${d.revision} (generation ${d.generation}, phase ${d.status.phase})`);
      d = await maybeWait(io, client, d, o, "ready", format !== "table");
      printData(io, format, d);
    });

  // The canary (started with `edit --canary N` or `set-version --canary N`): its share, promote, abort.
  const canaryAction = (name: "canary" | "promote" | "abort", describe: string) => {
    const c = target(program.command(name)).description(describe).option("-o, --output <format>", "table, json or yaml (the deployment after the change)", "table");
    if (name === "canary") c.argument("<percent>", "the canary's new share of the calls, 1..99");
    c.action(async (ref: string, ...rest: unknown[]) => {
      const o = rest[name === "canary" ? 1 : 0] as { output: string };
      const format = parseFormat(o.output);
      const { deployment } = await session.deployment(ref);
      const client = await session.client();
      const params = { projectId: deployment.projectId, id: deployment.id };
      let d;
      if (name === "canary") {
        const percent = Number(rest[0]);
        if (!Number.isInteger(percent) || percent < 1 || percent > 99) throw usageError(`<percent> ${String(rest[0])}: give a whole percentage 1..99`);
        d = await client.do("setCanaryPercent", { params, body: { percent } });
      } else {
        d = await client.do(name === "promote" ? "promoteCanary" : "abortCanary", { params });
      }
      if (format === "table") out(io, `deployment "${d.displayName}": ${describeLive(d.liveRevisions)}`);
      printData(io, format, d);
    });
  };
  canaryAction("canary", "change the share of the canary under way (sessions already on it stay there when it grows)");
  canaryAction("promote", "promote the canary: every call goes to the current revision; the stable one stays warm for the grace period");
  canaryAction("abort", "abort the canary: roll back to the stable revision, whose replicas take every call at once");
}
