import type { Case } from "./cases.js";
import { eventSequence, resultText, shapeDifferences, textDifference, type Difference } from "./compare.js";

/**
 * One conformance case through both runtimes over HTTP, endpoint by endpoint: lfx serve's run
 * shape, Langflow's run API (the chat answer, then every component with output_type=debug),
 * and its event stream. Each endpoint gets its own session so turns do not mix.
 */
interface Answer {
  status: number;
  body: unknown;
}
type Output = { component_id?: string };
type V1 = { outputs?: { outputs?: Output[] }[] };

const short = (a: Answer) => `${a.status} ${JSON.stringify(a.body).slice(0, 160)}`;

async function call(base: string, path: string, body: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  if (path.includes("stream=true")) return { status: res.status, body: text.trim().split("\n\n").filter(Boolean).map((e) => JSON.parse(e) as unknown) };
  return { status: res.status, body: JSON.parse(text) as unknown };
}

/** Runs every turn of the case against one runtime; the last answer counts. */
async function turns(base: string, path: string, c: Case, session: string, extra: Record<string, unknown>): Promise<Answer> {
  let last: Answer = { status: 0, body: null };
  for (const input of c.turns) last = await call(base, path, { input_value: input, session_id: session, ...extra });
  return last;
}

function v1Body(c: Case, outputType: string): Record<string, unknown> {
  return { input_type: c.inputType ?? "chat", output_type: outputType, ...(c.tweaks ? { tweaks: c.tweaks } : {}) };
}

const outputsOf = (body: unknown): Output[] => (body as V1).outputs?.[0]?.outputs ?? [];

/** The same endpoint on both sides: an outcome difference, or shape and text differences. */
function compareAnswers(where: string, native: Answer, lfx: Answer, texts: (a: Answer) => Map<string, string | null>): Difference[] {
  if (native.status !== lfx.status) return [{ where, path: "(status)", kind: "outcome", native: short(native), lfx: short(lfx) }];
  const out = shapeDifferences(where, native.body, lfx.body);
  const [tn, tl] = [texts(native), texts(lfx)];
  for (const key of new Set([...tn.keys(), ...tl.keys()])) out.push(...textDifference(where, key, tn.get(key) ?? null, tl.get(key) ?? null));
  return out;
}

const v1Texts = (a: Answer) => new Map(outputsOf(a.body).map((o, i) => [`outputs[${i}] text`, resultText(o)] as const));

export async function runCase(flowId: string, c: Case, nativeUrl: string, lfxUrl: string, tag: string): Promise<Difference[]> {
  const both = (path: string, extra: Record<string, unknown>, endpoint: string) =>
    Promise.all([turns(nativeUrl, path, c, `${tag}-${endpoint}`, extra), turns(lfxUrl, path, c, `${tag}-${endpoint}`, extra)]);
  const diffs: Difference[] = [];

  // lfx serve's own run endpoint takes neither tweaks nor an input type.
  if (!c.tweaks && (c.inputType ?? "chat") === "chat") {
    const [n, l] = await both(`/flows/${flowId}/run`, {}, "lfx-run");
    diffs.push(...compareAnswers("/flows/{id}/run", n, l, (a) => new Map([["result", String((a.body as { result?: unknown }).result ?? "")]])));
  }

  const [n, l] = await both(`/api/v1/run/${flowId}`, v1Body(c, "chat"), "v1");
  diffs.push(...compareAnswers("/api/v1/run", n, l, v1Texts));

  // Every component's result, compared component by component.
  const [nd, ld] = await both(`/api/v1/run/${flowId}`, v1Body(c, "debug"), "v1-debug");
  if (nd.status !== ld.status) diffs.push({ where: "/api/v1/run?output_type=debug", path: "(status)", kind: "outcome", native: short(nd), lfx: short(ld) });
  else {
    const byId = (a: Answer) => new Map(outputsOf(a.body).map((o) => [o.component_id ?? "?", o] as const));
    const [bn, bl] = [byId(nd), byId(ld)];
    for (const id of new Set([...bn.keys(), ...bl.keys()])) {
      if (!bn.has(id) || !bl.has(id)) diffs.push({ where: id, path: "(result)", kind: bn.has(id) ? "only-native" : "only-lfx" });
      else diffs.push(...shapeDifferences(id, bn.get(id), bl.get(id)), ...textDifference(id, "text", resultText(bn.get(id)), resultText(bl.get(id))));
    }
  }

  const [ns, ls] = await both(`/api/v1/run/${flowId}?stream=true`, v1Body(c, "chat"), "v1-stream");
  const [en, el] = [ns.body as { event: string; data: { result?: unknown } }[], ls.body as { event: string; data: { result?: unknown } }[]];
  const [qn, ql] = [eventSequence(en).join(" "), eventSequence(el).join(" ")];
  if (qn !== ql) diffs.push({ where: "/api/v1/run?stream=true", path: "(events)", kind: "events", native: qn, lfx: ql });
  const [endN, endL] = [en.at(-1), el.at(-1)];
  if (endN?.event === "end" && endL?.event === "end") {
    diffs.push(...compareAnswers("/api/v1/run?stream=true", { status: 200, body: endN.data.result }, { status: 200, body: endL.data.result }, v1Texts));
  }
  return diffs;
}
