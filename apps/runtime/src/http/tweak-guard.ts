import type { FieldError, Flow } from "@flowplane/core/replica";
import { ADDRESS_FIELD, secretHolders } from "./secret-holders.js";


/**
 * Most components one run's tweaks may name, and most fields one component's tweak may set. A
 * flow has at most a few hundred components and each of them a few dozen fields, so no real
 * request comes near; a request with a million names (12 MiB) held a replica 20 s, answered
 * 170 MiB of errors (one per unknown name) and took it to 1.8 GiB, near any memory limit.
 */
export const MAX_TWEAKED_COMPONENTS = 1_000;
export const MAX_TWEAKED_FIELDS = 1_000;

/** The tweaks' size problems: too many components, or too many fields on one (each named). */
export function tweakSizeProblems(tweaks: Readonly<Record<string, unknown>>): FieldError[] {
  let components = 0;
  for (const key in tweaks) if (Object.hasOwn(tweaks, key)) components++;
  if (components > MAX_TWEAKED_COMPONENTS) return [{ field: "tweaks", message: `names ${components} components; a run's tweaks may name at most ${MAX_TWEAKED_COMPONENTS}` }];
  const errors: FieldError[] = [];
  for (const [key, fields] of Object.entries(tweaks)) {
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) continue;
    const n = Object.keys(fields).length;
    if (n > MAX_TWEAKED_FIELDS) errors.push({ field: `tweaks.${key.slice(0, 200)}`, message: `sets ${n} fields; a tweak may set at most ${MAX_TWEAKED_FIELDS} fields of a component` });
  }
  return errors;
}

/**
 * Tweaks, under the rule request variables keep (langflow-v1.ts variableGuard): a caller never
 * learns a deployment's credentials. A tweak is a literal field value, so on a component holding
 * a secret field it may not set a field naming where the component sends its requests (a base
 * URL beside an API key sent the deployment's key to the caller's server), nor an object value
 * naming such a field; and on any component a value may not carry `load_from_db` (lfx merges an
 * object value into the field, so it read the variable it named, any credential, into the field,
 * and the answer showed it). Everything else stays tweakable: a model's temperature, stream and
 * system message, a Read File's path, and a key of the caller's own in the secret field itself,
 * which Langflow's starters expect (it goes to the deployment's model host and reveals nothing).
 * Names the node does not have are left to the engines (ignored, as Langflow does). "Holding a
 * secret" here is secret-holders.ts's `reached`: a component with a credential or a plain
 * parameter the deployment keeps secret (`secretParameters`), or downstream of one.
 */
export function tweakProblems(flow: Flow, tweaks: Readonly<Record<string, unknown>>, secretParameters: readonly string[] = []): FieldError[] {
  const { reached } = secretHolders(flow, secretParameters);
  const errors: FieldError[] = [];
  // Truthy as Python reads it (lfx: `if field.get("load_from_db")`), or more: `{"load_from_db": false}` is a literal and passes.
  const namesVariable = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v) && Boolean((v as { load_from_db?: unknown }).load_from_db);
  const redirects = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).some((k) => ADDRESS_FIELD.test(k));
  for (const [key, fields] of Object.entries(tweaks)) {
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) continue; // the engines' own 400
    const byId = flow.nodes.find((n) => n.id === key);
    for (const node of byId ? [byId] : flow.nodes.filter((n) => n.displayName === key)) {
      const holdsSecret = reached.has(node.id);
      for (const [name, value] of Object.entries(fields as Record<string, unknown>)) {
        const field = node.template[name];
        if (!field) continue;
        const where = `tweaks.${key}.${name}`;
        if (namesVariable(value)) errors.push({ field: where, message: "a tweak sets a value, never a global variable (load_from_db)" });
        else if (holdsSecret && (ADDRESS_FIELD.test(name) || redirects(value))) {
          errors.push({ field: where, message: `${node.displayName} holds a credential of the deployment: where it sends its requests cannot be set by a request` });
        }
      }
    }
  }
  return errors;
}
