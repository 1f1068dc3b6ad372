import { DomainError, FlowRunError, NotFoundError, ValidationError, extractParameters, type Flow } from "@flowplane/core/replica";
import { ADDRESS_FIELD, secretHolders, withCredentials } from "./secret-holders.js";
import { HttpError } from "./context.js";
import { BodyError } from "./routing.js";
import { TweaksRefusedError, isProtectedField } from "./protected-tweaks.js";

/**
 * What Langflow 1.13's `/api/v1/run` does at its boundary, for both engines: its error bodies
 * (`{"detail": ...}`), its per-request variables (`X-LANGFLOW-GLOBAL-VAR-*` headers), its `stream`
 * flag parsing, and the projection of message `content_blocks` onto the v1 wire shape.
 * docs/langflow-compatibility.md lists what still differs.
 */

/** Langflow's header prefix for request variables (`LANGFLOW_GLOBAL_VAR_HEADER_PREFIX`). */
const VAR_PREFIX = "x-langflow-global-var-";

/** `X-LANGFLOW-GLOBAL-VAR-NAME: value` headers as `{NAME: value}` (the name upper-cased, as Langflow does). */
export function requestVariables(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.toLowerCase().startsWith(VAR_PREFIX) || value === undefined) continue;
    const key = name.slice(VAR_PREFIX.length).toUpperCase();
    if (key.length > 0) vars[key] = Array.isArray(value) ? value.join(", ") : value;
  }
  return vars;
}

/** Why a request variable is refused, or null when the run may take it under `name`. */
export type VariableCheck = { ok: true; name: string } | { ok: false; reason: "credential" | "not_overridable" };

/**
 * Which request variables a run takes. A caller never owns a deployment's credentials, so, like
 * Langflow for a flow shared by its owner (`_reject_shared_secret_variable_overrides`), a request
 * may neither replace a credential nor redirect one. It may set only the bundle's plain
 * parameters (the variables its flows bind with `load_from_db`) whose every using component
 * holds no secret field: a URL bound on a model component beside its API key would otherwise
 * send the deployment's key wherever the caller says. Everything else is refused, including
 * names no flow declares (`OPENAI_API_BASE`, which a model component falls back to). Header
 * names arrive upper-cased (as Langflow makes them); a parameter is matched case-insensitively
 * and set under its own name. A plain parameter the deployment keeps secret (`secretParameters`)
 * is a credential here; which components hold a secret, and which a secret reaches (whose
 * address fields' variables are refused too), is secret-holders.ts's rule.
 */
export function variableGuard(flows: readonly Flow[], secretParameters: readonly string[] = []): (name: string) => VariableCheck {
  const params = extractParameters(flows);
  // A credential of any flow is secret in every flow (secret-holders.ts secretNames).
  const names = withCredentials(flows, secretParameters);
  const holders = new Map(flows.map((f) => [f.id, secretHolders(f, names)]));
  const byId = new Map(flows.map((f) => [f.id, f]));
  // A use that would let a request steer a secret: on a component holding one, or in an address
  // field of one a secret reaches. Or a field Langflow protects from tweaks (an SQL Database's
  // query or address, code): lfx 1.13 never lets a request variable reach one either
  // (load_from_env_vars), so a variable bound there is the deployment's alone.
  const guarded = (u: { flowId: string; nodeId: string; field: string }) => {
    const h = holders.get(u.flowId);
    const node = byId.get(u.flowId)?.nodes.find((n) => n.id === u.nodeId);
    if (node && isProtectedField(node.type, u.field, Object.hasOwn(node.template, u.field) ? node.template[u.field]?.type : undefined)) return true;
    return h !== undefined && (h.holds.has(u.nodeId) || (h.reached.has(u.nodeId) && ADDRESS_FIELD.test(u.field)));
  };
  const kept = new Set(secretParameters);
  const credentials = new Set(params.filter((p) => p.kind === "credential" || kept.has(p.name)).map((p) => p.name.toUpperCase()));
  const overridable = new Map<string, string>();
  for (const p of params) {
    if (p.kind === "plain" && !kept.has(p.name) && !p.usedBy.some(guarded)) overridable.set(p.name.toUpperCase(), p.name);
  }
  return (name) => {
    const key = name.toUpperCase();
    if (credentials.has(key) || /_API_KEY$/.test(key)) return { ok: false, reason: "credential" };
    const own = overridable.get(key);
    return own === undefined ? { ok: false, reason: "not_overridable" } : { ok: true, name: own };
  };
}

/** The guard per set of loaded flows (the array is replaced, never mutated, when flows load) and kept-secret names. */
const guards = new WeakMap<readonly unknown[], { names: readonly string[]; check: (name: string) => VariableCheck }>();

/** Request variables split into those a run takes (under their parameter's own name) and those refused, by reason. */
export function sortVariables(flows: readonly { flow: Flow }[], vars: Record<string, string>, secretParameters: readonly string[] = []): { take: Record<string, string>; credential: string[]; notOverridable: string[] } {
  let kept = guards.get(flows);
  if (kept?.names !== secretParameters) {
    kept = { names: secretParameters, check: variableGuard(flows.map((f) => f.flow), secretParameters) };
    guards.set(flows, kept);
  }
  const check = kept.check;
  const out = { take: {} as Record<string, string>, credential: [] as string[], notOverridable: [] as string[] };
  for (const [name, value] of Object.entries(vars)) {
    const c = check(name);
    if (c.ok) out.take[c.name] = value;
    else (c.reason === "credential" ? out.credential : out.notOverridable).push(name);
  }
  return out;
}

/** pydantic's bool parsing of a query parameter: true, false, or null for a value it refuses (422). */
export function parseBool(value: string | undefined): boolean | null {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (["1", "true", "t", "yes", "y", "on"].includes(v)) return true;
  if (["0", "false", "f", "no", "n", "off"].includes(v)) return false;
  return null;
}

/** FastAPI's 422 for a request it cannot validate: `{"detail": [{type, loc, msg}]}` (no input echoed). */
export class RequestValidation extends Error {
  constructor(readonly items: { type: string; loc: (string | number)[]; msg: string }[]) {
    super(items.map((i) => `${i.loc.join(".")}: ${i.msg}`).join("; "));
  }
}

/** Langflow's statuses and `{"detail": ...}` bodies for every failure of a run on this endpoint. */
export function langflowError(err: unknown, flowKey: string): { status: number; body: { detail: unknown } } {
  if (err instanceof RequestValidation) return { status: 422, body: { detail: err.items } };
  // Langflow 1.13's answer to a protected field in the tweaks (its app-level TweakRefusedError handler).
  if (err instanceof TweaksRefusedError) return { status: 422, body: { detail: { error: "Refused tweaks", code: "TWEAKS_REFUSED", message: err.reason, fields: err.fields } } };
  if (err instanceof NotFoundError) return { status: 404, body: { detail: `Flow identifier ${flowKey} not found` } };
  if (err instanceof HttpError) return { status: err.status, body: { detail: err.message } };
  // Tweaks naming no component of the flow (Langflow ignores them; flowplane refuses them).
  if (err instanceof ValidationError || err instanceof DomainError) return { status: 400, body: { detail: err.message } };
  if (err instanceof FlowRunError) {
    // Langflow's APIException: the detail is its ExceptionBody serialized as a JSON string.
    return { status: 500, body: { detail: JSON.stringify({ message: err.message, traceback: null, description: null, code: null, suggestion: null }) } };
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  if ((err instanceof BodyError && (err.code === "invalid_json" || err.code === "empty_json")) || err instanceof SyntaxError) {
    return { status: 422, body: { detail: [{ type: "json_invalid", loc: ["body", 0], msg: "JSON decode error" }] } };
  }
  if (e.statusCode === 413) return { status: 413, body: { detail: "the request body is larger than allowed" } };
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, body: { detail: e.message ?? "bad request" } };
  return { status: 500, body: { detail: "internal error" } };
}

// --- content_blocks on the v1 wire (a port of lfx.schema.legacy_render, lfx 1.13.0) ---

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function isGroup(block: unknown): boolean {
  if (!isObj(block)) return false;
  if (block.type === "group") return true;
  return "title" in block && "contents" in block && !("type" in block);
}

function legacyLeaf(node: Obj): Obj {
  const { id: _id, contents: _contents, ...rest } = node;
  return rest;
}

function legacyGroup(block: Obj): Obj {
  const contents = Array.isArray(block.contents) ? block.contents : [];
  return {
    title: block.title ?? null,
    contents: contents.filter(isObj).map(legacyLeaf),
    allow_markdown: block.allow_markdown ?? true,
    media_url: block.media_url ?? null,
  };
}

/** Groups only, leaves without `id`/`contents`; an agent's answer folded back into "Agent Steps". */
export function legacyContentBlocks(blocks: unknown[]): Obj[] {
  const groups = blocks.filter(isGroup) as Obj[];
  const leaves = blocks.filter((b): b is Obj => isObj(b) && !isGroup(b));
  if (groups.length === 0 && leaves.some((l) => l.type === "tool_use")) {
    return [{ title: "Agent Steps", contents: leaves.map(legacyLeaf), allow_markdown: true, media_url: null }];
  }
  const answer = leaves.filter((l) => l.type === "text").map((l) => (typeof l.text === "string" ? l.text : "")).join("");
  let folded = false;
  return groups.map((block) => {
    const group = legacyGroup(block);
    if (!folded && answer && block.title === "Agent Steps") {
      (group.contents as Obj[]).push({ type: "text", duration: null, header: { title: "Output", icon: "MessageSquare" }, text: answer });
      folded = true;
    }
    return group;
  });
}

/** Every `content_blocks` list in a payload, at any depth, in the v1 shape; a new structure. */
export function projectPayloadToV1(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(projectPayloadToV1);
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === "content_blocks" && Array.isArray(v) ? legacyContentBlocks(v) : projectPayloadToV1(v);
  if (Array.isArray(out.content_blocks) && "text" in out && typeof out.text !== "string") out.text = "";
  return out;
}
