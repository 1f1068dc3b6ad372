import type { Command } from "commander";
import { MAX_LIVE_KEYS, type UserKind } from "@flowplane/core/api";
import { usageError } from "../errors.js";
import { out } from "../io.js";
import { parseFormat, printData, table } from "../output.js";
import { resolveUser } from "../people.js";
import type { Session } from "../session.js";

const KINDS: readonly UserKind[] = ["human", "machine"];

/** `flowplane users`: list, add (a person or a machine user), deactivate. Org owners only (the server says 403 otherwise). */
export function registerUserCommands(program: Command, session: Session): void {
  const io = session.io;
  const users = program.command("users").description("list, add and deactivate users and machine users (organisation owners)");
  users.command("list")
    .description("every user, with kind and state")
    .option("-o, --output <format>", "table, json, yaml or name", "table")
    .action(async (o: { output: string }) => {
      const format = parseFormat(o.output, ["table", "json", "yaml", "name"]);
      const items = await (await session.client()).all("listUsers", {});
      if (printData(io, format, items)) return;
      if (format === "name") return items.forEach((u) => out(io, u.name));
      out(io, table(["NAME", "ID", "KIND", "STATE", "CREATED"], items.map((u) => [
        u.name, u.id, u.orgOwner ? `${u.kind} (org owner)` : u.kind, u.deactivatedAt ? `deactivated ${u.deactivatedAt}` : "active", u.createdAt,
      ])));
    });
  users.command("add")
    .argument("<name>", "the user's name (1..64 characters)")
    .description(`add a person (one live key) or a machine user for an application (${MAX_LIVE_KEYS.machine} live keys, for rotation)`)
    .requiredOption("--kind <kind>", "human or machine")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (name: string, o: { kind: string; output: string }) => {
      const format = parseFormat(o.output);
      if (!KINDS.includes(o.kind as UserKind)) throw usageError(`--kind ${o.kind}: choose human or machine`);
      const u = await (await session.client()).do("createUser", { body: { name, kind: o.kind as UserKind } });
      if (!printData(io, format, u)) out(io, `${u.kind} user ${u.name} created (${u.id}); give it a role with \`flowplane members add ${u.id} --role viewer\` and a key with \`flowplane keys create --user ${u.id}\``);
    });
  users.command("deactivate")
    .argument("<user>", "name or id")
    .description("deactivate a user: their keys stop working within seconds and no new key can be made for them")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string, o: { output: string }) => {
      const format = parseFormat(o.output);
      const client = await session.client();
      const target = await resolveUser(client, ref);
      const u = await client.do("deactivateUser", { params: { userId: target.id } });
      if (!printData(io, format, u)) out(io, `user ${u.name} deactivated (${u.id}); their keys no longer work`);
    });
}
