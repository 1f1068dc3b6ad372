import type { Command } from "commander";
import { parseAssignments, readCredentials } from "../credentials.js";
import { addResourceOptions, addRuntimeOptions, addValueOptions, resourcesFrom, runtimeFrom, type SpecFlags } from "../deploy-spec.js";
import { usageError } from "../errors.js";
import { interactive, out } from "../io.js";
import { parseFormat, printData } from "../output.js";
import { cancelled } from "../prompts.js";
import type { Session } from "../session.js";
import { addWaitOptions, maybeWait, type WaitFlags } from "./wait-options.js";

type ChangeFlags = SpecFlags & WaitFlags & { output: string; canary?: string };

/** `--canary 10`: the change starts as a canary with that share (1..99) of the calls. */
const canaryOption = (c: Command) => c.option("--canary <percent>", "start the change as a canary: the new revision gets this share (1..99) of the calls until `flowplane promote` or `flowplane abort`");
function canaryOf(o: ChangeFlags): { canary?: { percent: number } } {
  if (o.canary === undefined) return {};
  const n = Number(o.canary);
  if (!Number.isInteger(n) || n < 1 || n > 99) throw usageError(`--canary ${o.canary}: give a whole percentage 1..99`);
  return { canary: { percent: n } };
}

/**
 * edit, set-version and scale: one PATCH of the deployment's desired state each (a rolling
 * update on the server), then optionally --wait for the new generation to be Ready.
 */
async function applyPatch(session: Session, ref: string, patch: Record<string, unknown>, o: ChangeFlags): Promise<void> {
  const io = session.io;
  const format = parseFormat(o.output);
  const { deployment } = await session.deployment(ref);
  const client = await session.client();
  let d = await client.do("patchDeployment", { params: { projectId: deployment.projectId, id: deployment.id }, body: { ...patch, ...canaryOf(o) } });
  if (format === "table") {
    // Scaling alone is no new revision nor generation: replicas are added or stopped, none restarts.
    const scaled = d.generation === deployment.generation && d.resources.replicas !== deployment.resources.replicas;
    out(io, scaled ? `deployment "${d.displayName}": scaled to ${d.resources.replicas} replica(s); revision ${d.revision} stays, nothing restarts`
      : d.generation === deployment.generation
        ? `deployment "${d.displayName}": nothing changed (generation ${d.generation})`
        : o.canary !== undefined
          ? `deployment "${d.displayName}": revision ${d.revision} starts as a canary with ${o.canary}% of the calls (flowplane promote / abort)`
          : `deployment "${d.displayName}": revision ${d.revision}, generation ${d.generation} accepted, rolling out (phase ${d.status.phase})`);
  }
  d = await maybeWait(io, client, d, o, "ready", format !== "table");
  printData(io, format, d);
}

const target = (c: Command) => c.argument("<deployment>", "name, resource name or id");
const outputOption = (c: Command) => c.option("-o, --output <format>", "table, json or yaml (the deployment after the change)", "table");

export function registerChangeCommands(program: Command, session: Session): void {
  const io = session.io;
  const edit = target(program.command("edit"))
    .description("change parameters, credentials or runtime settings (a rolling restart; old replicas serve until new ones are ready)");
  addValueOptions(edit);
  addRuntimeOptions(edit);
  canaryOption(edit);
  outputOption(addWaitOptions(edit, "ready"))
    .addHelpText("after", `
Examples:
  flowplane edit support-bot --param MODEL=gpt-4o --wait
  flowplane edit support-bot --param MODEL=gpt-4o --canary 10
  flowplane edit support-bot --tweaks-policy declared --wait    # run requests may tweak only fields marked editable via API
  vault read -field=key secret/openai | flowplane edit support-bot --credential OPENAI_API_KEY=- --wait

A plain parameter given with --credential is kept secret from then on (held as a credential);
given with --param again, it is back in the clear and its secret value is dropped:
  flowplane edit support-bot --credential DATABASE_URL=@db-url.txt --wait
  flowplane edit support-bot --param DATABASE_URL=sqlite:///demo.db --wait`)
    .action(async (ref: string, o: ChangeFlags) => {
      // The flags checked here first (a bad --tweaks-policy), before a hidden credential is asked for.
      const runtime = runtimeFrom(o);
      const credentials = await readCredentials(io, o.credential ?? [], () => session.prompter());
      const parameters = parseAssignments(o.param ?? [], "--param");
      const patch = {
        ...(Object.keys(parameters).length ? { parameters } : {}),
        ...(Object.keys(credentials).length ? { credentials } : {}),
        ...(runtime ? { runtime } : {}),
      };
      if (Object.keys(patch).length === 0) throw usageError("nothing to change: give --param, --credential, --engine, --log-level, --timeout, --record-io or --tweaks-policy");
      await applyPatch(session, ref, patch, o);
    });

  outputOption(canaryOption(addWaitOptions(target(program.command("set-version")).argument("<version>", "a version tag of the same bundle, or latest (pinned now)"), "ready")))
    .description("pin the deployment to another version of its bundle (a rolling update)")
    .action(async (ref: string, version: string, o: ChangeFlags) => {
      await applyPatch(session, ref, { bundle: { version } }, o);
    });

  const scale = target(program.command("scale"))
    .description("change the replica count or the CPU and memory requests and limits (a rolling update)");
  addResourceOptions(scale);
  outputOption(addWaitOptions(scale, "ready"))
    .action(async (ref: string, o: ChangeFlags) => {
      const resources = resourcesFrom(o);
      if (!resources) throw usageError("nothing to change: give --replicas, --cpu-request, --cpu-limit, --memory-request or --memory-limit");
      await applyPatch(session, ref, { resources }, o);
    });

  // The kill switch: no rollout, no new generation; the gateway answers 503 within a second.
  outputOption(target(program.command("disable")))
    .description("kill switch: every call through the gateway is answered 503 with Retry-After, at once; replicas are kept warm unless --stop-replicas")
    .option("--stop-replicas", "also stop every replica (enabling then waits for new ones to be ready)")
    .action(async (ref: string, o: { stopReplicas?: boolean; output: string }) => {
      const format = parseFormat(o.output);
      const { deployment } = await session.deployment(ref);
      const client = await session.client();
      const d = await client.do("disableDeployment", { params: { projectId: deployment.projectId, id: deployment.id }, body: o.stopReplicas ? { stopReplicas: true } : {} });
      if (format === "table") out(io, `deployment "${d.displayName}": disabled; the gateway answers 503 (replicas ${d.disabled?.stopReplicas ? "stopping" : "kept warm"})`);
      printData(io, format, d);
    });
  outputOption(addWaitOptions(target(program.command("enable")), "ready"))
    .description("turn the kill switch off: the gateway serves the deployment again")
    .action(async (ref: string, o: WaitFlags & { output: string }) => {
      const format = parseFormat(o.output);
      const { deployment } = await session.deployment(ref);
      const client = await session.client();
      let d = await client.do("enableDeployment", { params: { projectId: deployment.projectId, id: deployment.id } });
      if (format === "table") out(io, `deployment "${d.displayName}": enabled (phase ${d.status.phase})`);
      d = await maybeWait(io, client, d, o, "ready", format !== "table");
      printData(io, format, d);
    });

  addWaitOptions(target(program.command("undeploy")), "gone")
    .description("remove everything the deployment runs and holds (runtime, routes, credentials); its record and events stay")
    .option("-y, --yes", "do not ask for confirmation")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string, o: WaitFlags & { yes?: boolean; output: string }) => {
      const format = parseFormat(o.output);
      const { project, deployment } = await session.deployment(ref);
      if (!o.yes && interactive(io)) {
        const sure = await session.prompter().confirm(`Undeploy "${deployment.displayName}" (${deployment.id}) from project ${project.name}? Its endpoints will answer 404`);
        if (!sure) throw cancelled();
      }
      const client = await session.client();
      let d = await client.do("deleteDeployment", { params: { projectId: deployment.projectId, id: deployment.id } });
      if (format === "table") out(io, `deployment "${d.displayName}": undeploy requested (phase ${d.status.phase})`);
      d = await maybeWait(io, client, d, o, "gone", format !== "table");
      printData(io, format, d);
    });
}
