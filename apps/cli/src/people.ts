import type { User } from "@flowplane/core/api";
import type { ApiClient } from "./client.js";
import { CliError, Exit, usageError } from "./errors.js";

/**
 * A user named on the command line: `me`, an id, or a name. Names are looked up in the user
 * list, which only org owners may read; anyone else names users by id (or `me`). A name two
 * users share is refused, listing their ids.
 */
export async function resolveUser(client: ApiClient, ref: string): Promise<{ id: string; name: string; user?: User }> {
  if (ref === "me") {
    const me = await client.do("getMe", {});
    return { id: me.id, name: me.name };
  }
  let users: User[];
  try {
    users = await client.all("listUsers", {});
  } catch (e) {
    // Not an org owner: the reference must be an id (the server decides whether it exists).
    if (e instanceof CliError && e.exitCode === Exit.auth) return { id: ref, name: ref };
    throw e;
  }
  const byId = users.find((u) => u.id === ref);
  if (byId) return { id: byId.id, name: byId.name, user: byId };
  const named = users.filter((u) => u.name === ref);
  if (named.length === 1) return { id: named[0]!.id, name: named[0]!.name, user: named[0] };
  if (named.length > 1) throw usageError(`${named.length} users are named "${ref}": give the id (${named.map((u) => u.id).join(", ")})`);
  throw new CliError(Exit.notFound, `no user "${ref}"`);
}

/** `--days` as a whole number (the server checks the 1..365 bounds and names the field). */
export function parseDays(v: string): number {
  if (!/^\d+$/.test(v)) throw usageError(`--days ${v}: a whole number of days (1..365)`);
  return Number(v);
}
