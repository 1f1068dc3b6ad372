import type { Command } from "commander";
import { DEPLOY_STEPS, type DeployDraft } from "@flowplane/core/api";
import type { ApiClient } from "../client.js";
import { readCredentials } from "../credentials.js";
import { addResourceOptions, addRuntimeOptions, addValueOptions, createDeployment, dryRun, requestFrom, validateSteps, type SpecFlags } from "../deploy-spec.js";
import { deployWizard, type WizardApi } from "../deploy-wizard.js";
import { CliError, Exit } from "../errors.js";
import { interactive, note, out } from "../io.js";
import { parseFormat, printData } from "../output.js";
import { cancelled } from "../prompts.js";
import type { Session } from "../session.js";
import { addWaitOptions, maybeWait, type WaitFlags } from "./wait-options.js";

/** Step 1's request fields and the flags that give them. */
const STEP1_FLAGS: Readonly<Record<string, string>> = { displayName: "--name", bundle: "--bundle", networkAccess: "--network" };

interface DeployFlags extends SpecFlags, WaitFlags {
  dryRun?: boolean;
  input: boolean;
  output: string;
}

function wizardApi(client: ApiClient): WizardApi {
  return {
    async projects() {
      const [projects, me] = await Promise.all([client.all("listProjects", {}), client.do("getMe", {})]);
      return projects.filter((p) => me.orgOwner || me.roles[p.id] === "editor" || me.roles[p.id] === "owner");
    },
    bundles: () => client.all("listBundles", {}),
    versions: async (name) => (await client.do("getBundle", { params: { name } })).versions,
    version: (name, tag) => client.do("getBundleVersion", { params: { name, tag } }),
    dryRun: (projectId, req, step) => dryRun(client, projectId, req, step),
  };
}

export function registerDeploy(program: Command, session: Session): void {
  const io = session.io;
  const cmd = program.command("deploy")
    .description("deploy a bundle version into a project: the Deploy dialog's four steps as flags, or walked through at a terminal")
    .option("--name <display-name>", "display name, 1..63 characters (step 1)")
    .option("--bundle <NAME[@VERSION]>", "the bundle and version to deploy; the version defaults to latest, pinned at deploy time (step 1)")
    .option("--network <type>", "network access type: public or private (default public) (step 1)");
  addRuntimeOptions(cmd);
  addValueOptions(cmd);
  addResourceOptions(cmd);
  addWaitOptions(cmd, "ready")
    .option("--dry-run", "only validate every step on the server; deploy nothing")
    .option("--no-input", "never prompt: fail with the server's messages when something is missing")
    .option("-o, --output <format>", "table, json or yaml (the created deployment)", "table")
    .addHelpText("after", `
The project is --project (or the context's default). Every step is validated by the server
(the same dry run and messages as the Deploy dialog) before anything is created. At a terminal,
without --name or --bundle, the four steps are walked interactively (flags fill the defaults),
and credentials the bundle needs that were not given are asked for without echo.

Credentials are never taken on the command line:
  --credential OPENAI_API_KEY=@key.txt     read from a file
  --credential OPENAI_API_KEY=-            read from stdin
  --credential OPENAI_API_KEY              prompt (hidden)

A plain parameter that holds a secret (a connection string with its password, say) can be
given the same way: it is then kept secret, held as a credential (stored encrypted, shown as
********, never in revisions or events) instead of shown to every viewer of the project:
  --credential DATABASE_URL=@db-url.txt

Examples:
  flowplane deploy --project support --name "Support bot" --bundle support-bot@v3 \\
      --credential OPENAI_API_KEY=@/run/secrets/openai --replicas 2 --wait
  flowplane deploy            # interactive, at a terminal`)
    .action(async (o: DeployFlags) => {
      const format = parseFormat(o.output);
      const client = await session.client();
      const prompts = interactive(io) && o.input;
      const credentials = await readCredentials(io, o.credential ?? [], () => session.prompter());
      let request: DeployDraft = requestFrom(o, credentials);
      let projectId: string | undefined;
      // At a terminal the walk offers the projects; elsewhere an unresolvable project is the error.
      try {
        projectId = (await session.project()).id;
      } catch (e) {
        if (!(prompts && e instanceof CliError && e.exitCode === Exit.usage)) throw e;
      }
      if (prompts && (o.name === undefined || o.bundle === undefined)) {
        const say = (line: string) => note(io, line);
        const walked = await deployWizard(session.prompter(), say, wizardApi(client), { projectId, request });
        if (!walked) throw cancelled();
        ({ projectId, request } = walked);
      } else {
        projectId ??= (await session.project()).id;
        if (prompts) await askMissingCredentials(session, client, request);
        const failing = await validateSteps(client, projectId!, request);
        if (failing.length) {
          const steps = failing.map((f) => `step ${DEPLOY_STEPS.indexOf(f.step) + 1} ${f.step.title}`).join(", ");
          // The server names the request's fields; the three of step 1 that are required are flags here.
          const errors = failing.flatMap((f) => f.errors).map((e) => (STEP1_FLAGS[e.field] ? { ...e, message: `${e.message} (${STEP1_FLAGS[e.field]})` } : e));
          throw new CliError(Exit.validation, `the deployment is not valid (${steps})`, errors);
        }
      }
      if (o.dryRun) return out(io, "valid: every step passes on the server; nothing was deployed (--dry-run)");
      let d = await createDeployment(client, projectId!, request);
      if (format === "table") {
        out(io, `deployment "${d.displayName}" created: ${d.id}, ${d.bundle.name}@${d.bundle.version}, phase ${d.status.phase}\n  HTTP: ${d.endpoints.http}\n  MCP:  ${d.endpoints.mcp}`);
      }
      d = await maybeWait(io, client, d, o, "ready", format !== "table");
      printData(io, format, d);
    });
}


/** Flags complete but a credential missing: at a terminal it is asked for (hidden), never required on the command line. */
async function askMissingCredentials(session: Session, client: ApiClient, request: DeployDraft): Promise<void> {
  const { name, version } = request.bundle ?? {};
  if (!name || !version) return;
  const v = await client.do("getBundleVersion", { params: { name, tag: version } })
    .catch(() => undefined); // an unknown bundle is reported by the server's step 1 validation
  for (const p of v?.parameters ?? []) {
    if (p.kind !== "credential" || request.credentials[p.name] !== undefined) continue;
    request.credentials[p.name] = await session.prompter().secret(`Credential ${p.name} (required, hidden)`);
  }
}
