import type { Command } from "commander";
import { out } from "../io.js";
import { parseFormat, printData, table } from "../output.js";
import type { Session } from "../session.js";

export function registerProjectCommands(program: Command, session: Session): void {
  const io = session.io;
  const projects = program.command("projects").description("list and create projects");
  projects.command("list")
    .description("the projects you have a role in (all of them for organisation owners), with your role")
    .option("-o, --output <format>", "table, json, yaml or name", "table")
    .action(async (o: { output: string }) => {
      const format = parseFormat(o.output, ["table", "json", "yaml", "name"]);
      const client = await session.client();
      const [items, me] = await Promise.all([client.all("listProjects", {}), client.do("getMe", {})]);
      if (printData(io, format, items)) return;
      if (format === "name") return items.forEach((p) => out(io, p.name));
      const role = (id: string) => me.roles[id] ?? (me.orgOwner ? "org owner" : "");
      out(io, table(["NAME", "ID", "ROLE"], items.map((p) => [p.name, p.id, role(p.id)])));
    });
  projects.command("create")
    .argument("<name>", "the project's name (unique, 1..63 characters)")
    .description("create a project (organisation owners)")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (name: string, o: { output: string }) => {
      const format = parseFormat(o.output);
      const p = await (await session.client()).do("createProject", { body: { name } });
      if (!printData(io, format, p)) out(io, `project ${p.name} created (${p.id})`);
    });
}
