import type { Command } from "commander";
import { ROLES, type Role } from "@flowplane/core/api";
import { usageError } from "../errors.js";
import { out } from "../io.js";
import { parseFormat, printData, table } from "../output.js";
import { resolveUser } from "../people.js";
import type { Session } from "../session.js";

function parseRole(v: string): Role {
  if (!ROLES.includes(v as Role)) throw usageError(`--role ${v}: choose viewer, editor or owner`);
  return v as Role;
}

/** `flowplane members`: a project's members and their roles. Changes need the owner role in the project (or org owner). */
export function registerMemberCommands(program: Command, session: Session): void {
  const io = session.io;
  const members = program.command("members").description("list a project's members; add, change the role of, or remove one (project owners)");
  members.command("list")
    .description("the project's members and their roles")
    .option("-o, --output <format>", "table, json, yaml or name", "table")
    .action(async (o: { output: string }) => {
      const format = parseFormat(o.output, ["table", "json", "yaml", "name"]);
      const project = await session.project();
      const { items } = await (await session.client()).do("listMembers", { params: { projectId: project.id } });
      if (printData(io, format, items)) return;
      if (format === "name") return items.forEach((m) => out(io, m.userName));
      if (items.length === 0) return out(io, `no members in project ${project.name}`);
      out(io, table(["NAME", "USER ID", "ROLE"], items.map((m) => [m.userName, m.userId, m.role])));
    });
  const setRole = (verb: string, description: string) => members.command(verb)
    .argument("<user>", "name (org owners), id, or me")
    .description(description)
    .requiredOption("--role <role>", "viewer, editor or owner")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string, o: { role: string; output: string }) => {
      const format = parseFormat(o.output);
      const role = parseRole(o.role);
      const client = await session.client();
      const project = await session.project(undefined, client);
      const user = await resolveUser(client, ref);
      const r = await client.do("setMember", { params: { projectId: project.id, userId: user.id }, body: { role } });
      if (!printData(io, format, r)) out(io, `${user.name} is ${role} in project ${project.name}`);
    });
  setRole("add", "give a user a role in the project");
  setRole("set-role", "change a member's role");
  members.command("remove")
    .argument("<user>", "name (org owners), id, or me")
    .description("remove a user's role in the project")
    .action(async (ref: string) => {
      const client = await session.client();
      const project = await session.project(undefined, client);
      const user = await resolveUser(client, ref);
      await client.do("removeMember", { params: { projectId: project.id, userId: user.id } });
      out(io, `${user.name} removed from project ${project.name}`);
    });
}
