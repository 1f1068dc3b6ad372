import type { Command } from "commander";
import { ApiClient } from "../client.js";
import { contextNameFor, contextsPath, readContexts, tooOpen, writeContexts } from "../contexts.js";
import { CliError, Exit, usageError } from "../errors.js";
import { chompNewline, interactive, note, out, readTextFile } from "../io.js";
import { parseFormat, printData, table } from "../output.js";
import type { Session } from "../session.js";
import { DEFAULT_SERVER, isLocalServer, localAdminKey, normalizeServer } from "../target.js";

/** Enough of a key to recognise it, never enough to use it. */
const keyPrefix = (key: string) => `${key.slice(0, 10)}…`;

export function registerContextCommands(program: Command, session: Session): void {
  const io = session.io;
  program.command("login")
    .description("save a context (server URL and access key) and make it the current one; the key is checked first")
    .option("--server <url>", `the flowplane server (default: FLOWPLANE_SERVER or ${DEFAULT_SERVER})`)
    .option("--key-file <file>", "read the access key from this file (otherwise from stdin, or a hidden prompt at a terminal)")
    .option("--name <context>", "name of the context (default: the server's host and port)")
    .option("--default-project <name|id>", "default project of this context")
    .addHelpText("after", `
The key is never taken as an argument. For a server on localhost, with no key given, the local
admin key ($FLOWPLANE_DATA_DIR/admin.key or ./.flowplane/admin.key) is used at each call and
not copied into the contexts file.

Examples:
  flowplane login --server https://flowplane.example.com --key-file ~/fp.key
  echo "$FLOWPLANE_KEY" | flowplane login --server https://flowplane.example.com --name prod
  flowplane login            # a local server started with npm start`)
    .action(async (o: { server?: string; keyFile?: string; name?: string; defaultProject?: string }) => {
      const server = normalizeServer(o.server ?? io.env.FLOWPLANE_SERVER ?? DEFAULT_SERVER);
      let key: string | undefined;
      if (o.keyFile) key = chompNewline(await readTextFile(o.keyFile, "--key-file")).trim();
      else if (!io.stdin.isTTY) key = (await io.readStdin("the access key")).trim();
      const local = !key && isLocalServer(server) ? await localAdminKey(io) : undefined;
      if (!key && !local && interactive(io)) key = (await session.prompter().secret(`Access key for ${server}`)).trim();
      const used = key || local?.key;
      if (!used) throw usageError(`give an access key for ${server}: --key-file FILE, or the key on stdin`);
      // The admin key found on disk goes only to a server that proves it holds it (client.ts).
      const client = new ApiClient({ server, key: used, keySource: key ? "the key given" : local!.path, ...(key ? {} : { localAdmin: true }) });
      const me = await client.do("getMe", {});
      let project: string | undefined;
      if (o.defaultProject) project = (await session.project(o.defaultProject, client)).name;

      const path = contextsPath(io.env);
      const file = await readContexts(path);
      const name = o.name ?? contextNameFor(server);
      file.contexts[name] = { server, ...(key ? { key } : {}), ...(project ? { project } : {}) };
      file.current = name;
      await writeContexts(path, file);
      out(io, `logged in to ${server} as ${me.name}${me.orgOwner ? " (organisation owner)" : ""}`);
      note(io, key ? `key ${keyPrefix(key)} saved in context "${name}" (${path}, mode 0600)` : `context "${name}" uses the local admin key (${local!.path}); it is read at each call, not copied`);
    });

  const ctx = program.command("context").description("list, switch and edit the saved contexts");
  ctx.command("list")
    .description("list the contexts (the current one marked *); keys are never shown")
    .option("-o, --output <format>", "table, json, yaml or name", "table")
    .action(async (o: { output: string }) => {
      const format = parseFormat(o.output, ["table", "json", "yaml", "name"]);
      const path = contextsPath(io.env);
      const file = await readContexts(path);
      if (await tooOpen(path)) note(io, `warning: ${path} can be read by other users; run chmod 600 ${path}`);
      const rows = Object.entries(file.contexts).map(([name, c]) => ({
        name, current: name === file.current, server: c.server, project: c.project ?? null,
        key: c.key ? "stored" : isLocalServer(c.server) ? "local admin key" : "none",
      }));
      if (printData(io, format, rows)) return;
      if (format === "name") return rows.forEach((r) => out(io, r.name));
      if (rows.length === 0) return note(io, "no contexts yet: run `flowplane login --server URL`");
      out(io, table(["CURRENT", "NAME", "SERVER", "PROJECT", "KEY"], rows.map((r) => [r.current ? "*" : "", r.name, r.server, r.project ?? "", r.key])));
    });
  ctx.command("use").argument("<name>").description("make a context the current one")
    .action(async (name: string) => {
      const path = contextsPath(io.env);
      const file = await readContexts(path);
      if (!file.contexts[name]) throw new CliError(Exit.notFound, `no context named "${name}" (see \`flowplane context list\`)`);
      file.current = name;
      await writeContexts(path, file);
      out(io, `current context: ${name} (${file.contexts[name].server})`);
    });
  ctx.command("current").description("print the current context's name and server")
    .action(async () => {
      const file = await readContexts(contextsPath(io.env));
      const c = file.current ? file.contexts[file.current] : undefined;
      if (!c) throw new CliError(Exit.notFound, "no current context: run `flowplane login --server URL`");
      out(io, `${file.current} ${c.server}${c.project ? ` (project ${c.project})` : ""}`);
    });
  ctx.command("set-project").argument("<project>", "project name or id").description("set the current context's default project")
    .action(async (ref: string) => {
      const path = contextsPath(io.env);
      const file = await readContexts(path);
      const c = file.current ? file.contexts[file.current] : undefined;
      if (!c) throw new CliError(Exit.notFound, "no current context: run `flowplane login --server URL`");
      c.project = (await session.project(ref)).name;
      await writeContexts(path, file);
      out(io, `context ${file.current}: default project ${c.project}`);
    });
  ctx.command("delete").argument("<name>").description("forget a context and its key")
    .action(async (name: string) => {
      const path = contextsPath(io.env);
      const file = await readContexts(path);
      if (!file.contexts[name]) throw new CliError(Exit.notFound, `no context named "${name}"`);
      delete file.contexts[name];
      if (file.current === name) delete file.current;
      await writeContexts(path, file);
      out(io, `context ${name} deleted`);
    });
}
