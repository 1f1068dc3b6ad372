import { findProvider, isSecretField, modelSelections, type FieldError, type Flow, type FlowNode } from "@flowplane/core/replica";
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
 * and the answer showed it). Two more doors lfx opens are shut on any component: a secret
 * field's value naming a variable (lfx's get_api_key_for_provider reads the variable it names)
 * and a model selection of a provider Langflow does not list (lfx then builds the client from
 * the selection's own class and parameter names: the key went to a "model name" used as the
 * base URL). Everything else stays tweakable: a model's temperature, stream and
 * system message, a Read File's path, and a key of the caller's own in the secret field itself,
 * which Langflow's starters expect (it goes to the deployment's model host and reveals nothing).
 * Names the node does not have are left to the engines (ignored, as Langflow does). "Holding a
 * secret" here is secret-holders.ts's `reached`: a component with a credential or a plain
 * parameter the deployment keeps secret (`secretParameters`), or downstream of one.
 */
export function tweakProblems(flow: Flow, tweaks: Readonly<Record<string, unknown>>, secretParameters: readonly string[] = [], variables: Readonly<Record<string, unknown>> = {}): FieldError[] {
  const { reached } = secretHolders(flow, secretParameters);
  const errors: FieldError[] = [];
  // Truthy as Python reads it (lfx: `if field.get("load_from_db")`), or more: `{"load_from_db": false}` is a literal and passes.
  const namesVariable = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v) && Boolean((v as { load_from_db?: unknown }).load_from_db);
  const redirects = (v: unknown): boolean => nestedKeys(v).some((k) => ADDRESS_FIELD.test(k));
  for (const [key, fields] of Object.entries(tweaks)) {
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) continue; // the engines' own 400
    const byId = flow.nodes.find((n) => n.id === key);
    for (const node of byId ? [byId] : flow.nodes.filter((n) => n.displayName === key)) {
      const holdsSecret = reached.has(node.id);
      for (const [name, value] of Object.entries(fields as Record<string, unknown>)) {
        const field = Object.hasOwn(node.template, name) ? node.template[name] : undefined;
        if (!field) continue;
        const where = `tweaks.${key}.${name}`;
        if (namesVariable(value)) errors.push({ field: where, message: "a tweak sets a value, never a global variable (load_from_db)" });
        else if (isSecretField(field) && namesAVariable(valueOf(value), variables)) {
          errors.push({ field: where, message: "a secret field's tweak is a key, never the name of a variable (lfx reads the variable it names)" });
        } else if (field._input_type === "ModelInput" && unlistedProvider(valueOf(value))) {
          errors.push({ field: where, message: "a model selection's provider must be one Langflow lists (lfx takes an unlisted provider's client and its settings from the selection)" });
        } else if (changesProvider(node, name, valueOf(value))) {
          errors.push({ field: where, message: `${node.displayName}'s model provider is the deployment's choice: a request may choose another of its models, not another provider (the deployment's key, prompts and history would go where its deployer did not send them)` });
        } else if (holdsSecret && (ADDRESS_FIELD.test(name) || redirects(value))) {
          errors.push({ field: where, message: `${node.displayName} holds a credential of the deployment: where it sends its requests cannot be set by a request` });
        }
      }
    }
  }
  return errors;
}

/** What an engine writes into the field: a plain value, or the `value` of an object merged into it (lfx's apply_tweaks). */
const valueOf = (v: unknown): unknown => (typeof v === "object" && v !== null && !Array.isArray(v) && "value" in v ? (v as { value: unknown }).value : v);

/** Every key of a value, at any depth (objects in arrays too), bounded as the body's depth is (64 levels). */
function nestedKeys(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) nestedKeys(x, out);
  else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      nestedKeys(x, out);
    }
  }
  return out;
}

/**
 * A secret field's value lfx would read as a variable's name (`get_api_key_for_provider`: a
 * word of letters, digits and `_` is looked up in the environment first, and an unresolved
 * upper-case one is never used as a key): an upper-case word, or the name of one of the
 * deployment's variables. `api_key: "OPENAI_API_KEY"` read the deployment's key as the load_from_db
 * tweaks did; a caller's own key (`sk-...`) is none of these.
 */
function namesAVariable(v: unknown, variables: Readonly<Record<string, unknown>>): boolean {
  if (typeof v !== "string") return false;
  const name = v.trim();
  return /^[A-Z][A-Z0-9_]*$/.test(name) || Object.hasOwn(variables, name);
}

/**
 * Whether a tweak of `name` on `node` chooses another model provider than the export's: a model
 * selection (ModelInput) of another provider, or another value in the provider fields that
 * choose or overlay one (`provider`, `agent_llm`). A provider switch sent the key in `api_key` to
 * the other provider's host, and Ollama's default address is the replica's own loopback, where
 * another tenant's process may listen (a reviewer's finding). Another model of the same provider
 * stays a request's choice, as in Langflow. A node without a model selection is not concerned.
 */
function changesProvider(node: FlowNode, name: string, value: unknown): boolean {
  const exported = modelSelections(node).map((s) => s.provider?.trim().toLowerCase() ?? "");
  if (exported.length === 0) return false;
  const chosen = (p: unknown) => (typeof p === "string" ? p.trim().toLowerCase() : "");
  if (node.template[name]?._input_type === "ModelInput") {
    const items = Array.isArray(value) ? value : value === null || value === undefined || value === "" ? [] : [value];
    return items.some((s) => typeof s === "object" && s !== null && !exported.includes(chosen((s as { provider?: unknown }).provider)));
  }
  if (name !== "provider" && name !== "agent_llm") return false;
  const given = chosen(value);
  return given !== "" && !exported.includes(given);
}

/**
 * A model selection (Langflow's ModelInput: `[{name, provider, metadata}]`) naming a provider
 * Langflow does not list. For those lfx 1.13 takes the client class and its parameter names
 * from the selection's `metadata` (`get_llm`): `model_name_param: "base_url"` made the "model
 * name" the address the deployment's key went to. A listed provider's come from lfx's own table.
 */
function unlistedProvider(v: unknown): boolean {
  const items = Array.isArray(v) ? v : v === null || v === undefined || v === "" ? [] : [v];
  return items.some((s) => {
    const provider = typeof s === "object" && s !== null ? (s as { provider?: unknown }).provider : undefined;
    return typeof provider !== "string" || findProvider(provider.trim()) === null;
  });
}
