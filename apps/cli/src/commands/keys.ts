import type { Command } from "commander";
import { MAX_KEY_DAYS, MAX_LIVE_KEYS, MIN_KEY_DAYS, type AccessKey } from "@flowplane/core/api";
import { CliError, Exit } from "../errors.js";
import { note, out } from "../io.js";
import { parseFormat, printData, table } from "../output.js";
import { parseDays, resolveUser } from "../people.js";
import type { Session } from "../session.js";

const live = (k: AccessKey, now = Date.now()) => !k.revokedAt && Date.parse(k.expiresAt) > now;
const stateOf = (k: AccessKey) => (k.revokedAt ? `revoked ${k.revokedAt}` : live(k) ? "live" : "expired");

/**
 * `flowplane keys`: a user's access keys (yours by default). A created key is printed once, to
 * stdout only, and never again: the server keeps only its hash. Everything else goes to stderr.
 */
export function registerKeyCommands(program: Command, session: Session): void {
  const io = session.io;
  const keys = program.command("keys").description(`list, create and revoke access keys (${MIN_KEY_DAYS}..${MAX_KEY_DAYS} days; ${MAX_LIVE_KEYS.machine} live per machine user, ${MAX_LIVE_KEYS.human} per person)`);
  keys.command("list")
    .description("a user's keys: prefix, creation, expiry, last use (never the key itself)")
    .option("--user <user>", "name (org owners), id, or me", "me")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (o: { user: string; output: string }) => {
      const format = parseFormat(o.output);
      const client = await session.client();
      const user = await resolveUser(client, o.user);
      const { items } = await client.do("listAccessKeys", { params: { userId: user.id } });
      if (printData(io, format, items)) return;
      if (items.length === 0) return out(io, `${user.name} has no access keys`);
      out(io, table(["ID", "PREFIX", "STATE", "CREATED", "EXPIRES", "LAST USED"], items.map((k) => [
        k.id, `${k.prefix}…`, stateOf(k), k.createdAt, k.expiresAt, k.lastUsedAt ?? "never",
      ])));
    });
  keys.command("create")
    .description("create a key and print it once to stdout (it cannot be shown again)")
    .option("--user <user>", "name (org owners), id, or me", "me")
    .option("--days <n>", `days until it expires (${MIN_KEY_DAYS}..${MAX_KEY_DAYS})`, "90")
    .option("-o, --output <format>", "table (the key alone), json or yaml", "table")
    .action(async (o: { user: string; days: string; output: string }) => {
      const format = parseFormat(o.output);
      const days = parseDays(o.days);
      const client = await session.client();
      const user = await resolveUser(client, o.user);
      const k = await client.do("createAccessKey", { params: { userId: user.id }, body: { expiresInDays: days } });
      if (printData(io, format, k)) return;
      out(io, k.key);
      note(io, `key ${k.id} for ${user.name}, expires ${k.expiresAt}. It is shown only this once: store it now.`);
    });
  keys.command("revoke")
    .argument("<key>", "the key's id or prefix (from `flowplane keys list`)")
    .description("revoke a key: the gateway refuses it within 5 seconds, the API at once")
    .option("--user <user>", "whose key, when giving a prefix (name, id, or me)", "me")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string, o: { user: string; output: string }) => {
      const format = parseFormat(o.output);
      const client = await session.client();
      let keyId = ref;
      if (ref.startsWith("fp_")) {
        const user = await resolveUser(client, o.user);
        const { items } = await client.do("listAccessKeys", { params: { userId: user.id } });
        const matches = items.filter((k) => ref.startsWith(k.prefix) || k.prefix.startsWith(ref.replace(/…$/, "")));
        if (matches.length !== 1) throw new CliError(matches.length ? Exit.usage : Exit.notFound, matches.length ? `${matches.length} keys of ${user.name} start with ${ref}: give the id` : `no key of ${user.name} starts with ${ref}`);
        keyId = matches[0]!.id;
      }
      const k = await client.do("revokeAccessKey", { params: { keyId } });
      if (!printData(io, format, k)) out(io, `key ${k.id} (${k.prefix}…) revoked at ${k.revokedAt}`);
    });
}
