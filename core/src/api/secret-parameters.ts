import type { Parameter } from "./bundles.js";

/**
 * Plain parameters a deployer keeps secret.
 *
 * Publish classifies a parameter as a credential only when a password field uses it; a plain
 * text field may hold a secret all the same (Langflow's SQL component takes a connection string,
 * password included, in a plain `database_url`). A plain value is shown to every viewer of the
 * project, so the deployer may give it under `credentials` instead: it is then held exactly as a
 * credential for that deployment (sealed, masked, named only), and reaches the replica as the
 * same variable. Model choices are excluded: they pick which provider key is needed, and are
 * read in clear to do so.
 *
 * No separate record says which ones are held: a deployment's (and revision's) `credentialNames`
 * holds them beside the declared credentials, so a rollback restores the choice with the values.
 */

/** The names among `names` that are plain parameters of the version (so may be held as credentials). */
export function plainNamesAmong(parameters: readonly Pick<Parameter, "name" | "kind">[], names: Iterable<string>): string[] {
  const plain = new Set(parameters.filter((p) => p.kind === "plain").map((p) => p.name));
  return [...new Set(names)].filter((n) => plain.has(n));
}

/**
 * The plain parameters a deployment holds as credentials after an edit: those it held (still
 * plain in the version it runs after the edit), plus those the edit gives under `credentials`,
 * minus those it gives under `parameters` (moved back into the clear; the held value is dropped).
 */
export function heldAfterEdit(
  parameters: readonly Pick<Parameter, "name" | "kind">[],
  held: readonly string[],
  edit: { credentials?: Record<string, string>; parameters?: Record<string, string> },
): string[] {
  const back = new Set(Object.keys(edit.parameters ?? {}));
  return plainNamesAmong(parameters, [...held, ...Object.keys(edit.credentials ?? {})]).filter((n) => !back.has(n)).sort();
}
