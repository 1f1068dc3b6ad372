import { extractParameters, isSecretField, type Flow } from "@flowplane/core/replica";

/**
 * Field names that say where a component sends its requests (`openai_api_base`, `base_url`,
 * `ollama_base_url`, `azure_endpoint`, `database_url`, `host`, `proxy`...).
 */
export const ADDRESS_FIELD = /url|base|host|endpoint|uri|proxy|server|domain|address/i;

/** The components of a flow a secret of the deployment is in or can reach, by node id (`reached` holds `holds`). */
export interface SecretHolders {
  /**
   * Those holding one themselves: a field of their own is secret (`SecretStrInput`, or
   * `password`: the bundle's credentials), or they use a credential of the flow or a plain
   * parameter the deployment keeps secret (`FLOWPLANE_SECRET_PARAMETER_NAMES`), in any field. No request sets where they send
   * their requests, nor any variable they use.
   */
  holds: ReadonlySet<string>;
  /**
   * Those, and every component downstream of one along the flow's edges. A component may pass
   * a secret on: a Text Input its text (a kept-secret token) into an API Request's headers,
   * Langflow's Secret component its secret field's value. One component does not tell whether a
   * secret reaches it, so no request sets where any of these sends its requests (its address
   * fields); their other fields stay the caller's, as elsewhere (a Chat Output's sender name).
   */
  reached: ReadonlySet<string>;
}

/**
 * Which components of a flow hold or are reached by a secret of the deployment, for the two
 * request guards (a request's variables, langflow-v1.ts `variableGuard`; its tweaks,
 * tweak-guard.ts). In Langflow 1.13's 27 starter projects no component downstream of a secret
 * has an address field, so callers keep every tweak and variable the starters offer.
 * Computed once per flow and set of names (both fixed for a replica's life).
 */
export function secretHolders(flow: Flow, secretParameters: readonly string[]): SecretHolders {
  const kept = cache.get(flow);
  if (kept && kept.names === secretParameters) return kept.holders;
  const holds = new Set(flow.nodes.filter((n) => Object.values(n.template).some(isSecretField)).map((n) => n.id));
  // A credential or a kept-secret parameter bound in any field: a Text Input bound to OPENAI_API_KEY
  // passes the key on. `secretParameters` may name the bundle's credentials too (secretNames).
  const secret = new Set(secretParameters);
  for (const p of extractParameters([flow])) if (p.kind === "credential" || secret.has(p.name)) for (const u of p.usedBy) holds.add(u.nodeId);
  const next = new Map<string, string[]>();
  for (const e of flow.edges) next.set(e.source, [...(next.get(e.source) ?? []), e.target]);
  const reached = new Set<string>();
  const queue = [...holds];
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    queue.push(...(next.get(id) ?? []));
  }
  const holders = { holds, reached };
  cache.set(flow, { names: secretParameters, holders });
  return holders;
}

/** Per loaded flow (flows are replaced, never mutated, when they load). */
const cache = new WeakMap<Flow, { names: readonly string[]; holders: SecretHolders }>();

/**
 * The names a request must treat as secret in any flow of the bundle: the plain parameters the
 * deployment keeps secret, and every credential of the bundle, whichever flow declares it. A
 * variable is one per deployment, so OPENAI_API_KEY bound in a model's key field in one flow is
 * the same value in a Text Input's text in another, where that flow alone would call it plain.
 * The result is what `secretHolders` and the tweak guard take; one array per loaded set of flows.
 */
export function secretNames(flows: readonly { flow: Flow }[], secretParameters: readonly string[]): readonly string[] {
  const kept = namesCache.get(flows);
  if (kept && kept.of === secretParameters) return kept.names;
  const names = withCredentials(flows.map((f) => f.flow), secretParameters);
  namesCache.set(flows, { of: secretParameters, names });
  return names;
}

/** `secretParameters` and the bundle's credential names, without repeats. */
export function withCredentials(flows: readonly Flow[], secretParameters: readonly string[]): string[] {
  return [...new Set([...secretParameters, ...extractParameters(flows).filter((p) => p.kind === "credential").map((p) => p.name)])];
}

const namesCache = new WeakMap<readonly unknown[], { of: readonly string[]; names: readonly string[] }>();
