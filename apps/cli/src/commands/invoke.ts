import type { Command } from "commander";
import type { ApiClient } from "../client.js";
import { CliError, Exit, usageError } from "../errors.js";
import { chompNewline, out, type Io } from "../io.js";
import { shownText } from "../output.js";
import type { Session } from "../session.js";

interface RuntimeFlow {
  id: string;
  name: string;
  endpoint_name?: string | null;
}

interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** The flow to run: named (id, name or endpoint name), or the bundle's only one. */
async function pickFlow(client: ApiClient, endpoint: string, ref: string | undefined): Promise<RuntimeFlow> {
  const res = await client.fetch(`${endpoint}/flows`);
  const text = await res.text();
  if (!res.ok) throw client.errorOf(res.status, text);
  const flows = JSON.parse(text) as RuntimeFlow[];
  const list = flows.map((f) => `${f.name} (${f.id})`).join(", ");
  if (ref === undefined) {
    if (flows.length === 1) return flows[0]!;
    throw usageError(`the deployment serves ${flows.length} flows: name one (${list})`);
  }
  const found = flows.find((f) => f.id === ref) ?? flows.find((f) => f.endpoint_name === ref) ?? flows.find((f) => f.name === ref);
  if (!found) throw new CliError(Exit.notFound, `no flow "${ref}" in this deployment (it serves: ${list})`);
  return found;
}

/** The final chat text of a Langflow run response, when there is one. */
function messageText(result: unknown): string | undefined {
  const r = result as { outputs?: { outputs?: { results?: { message?: { text?: unknown } } }[] }[] };
  const text = r?.outputs?.[0]?.outputs?.[0]?.results?.message?.text;
  return typeof text === "string" ? text : undefined;
}

/**
 * A flow's answer is text its publisher (a global bundle is another team's) or its model chose:
 * at a terminal its control characters are shown as escapes (shownText), so an ESC sequence in
 * it cannot retitle the window, write the clipboard or hide lines; piped, it stays byte for byte.
 */
const answerText = (io: Io): ((text: string) => string) => (io.stdout.isTTY ? shownText : (text) => text);

/**
 * Langflow's stream framing: JSON objects separated by blank lines, each written as it happens.
 * Tokens are printed as they arrive; with `-o json` every event is printed as one JSON line.
 */
async function printStream(io: Io, res: Response, json: boolean): Promise<void> {
  const shown = answerText(io);
  const decoder = new TextDecoder();
  let buffer = "";
  let printed = false;
  const handle = (e: StreamEvent) => {
    if (json) return out(io, JSON.stringify(e));
    if (e.event === "token" && typeof e.data.chunk === "string") {
      io.stdout.write(shown(e.data.chunk));
      printed = true;
    } else if (e.event === "end") {
      const text = messageText((e.data.result ?? e.data) as unknown);
      if (!printed && text !== undefined) io.stdout.write(shown(text));
      io.stdout.write("\n");
    } else if (e.event === "error") {
      throw new CliError(Exit.unexpected, `the flow failed: ${String(e.data.error ?? "no reason given")}`);
    }
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 2);
      if (frame) handle(JSON.parse(frame.replace(/^data:\s*/, "")) as StreamEvent);
    }
  }
  if (buffer.trim()) handle(JSON.parse(buffer.trim().replace(/^data:\s*/, "")) as StreamEvent);
}

export function registerInvoke(program: Command, session: Session): void {
  const io = session.io;
  program.command("invoke")
    .argument("<deployment>", "name, resource name or id")
    .argument("[flow]", "flow id, name or endpoint name (needed when the bundle has several flows)")
    .description("run a flow through the gateway with your access key, as an application would")
    .option("--input <text>", "the input text, or - to read it from stdin")
    .option("--session <id>", "session id (conversation memory)")
    .option("--stream", "stream the answer, printing tokens as they arrive (Langflow's run API)")
    .option("--request-timeout <seconds>", "give up after this many seconds", "300")
    .option("-o, --output <format>", "text (the answer) or json (the whole response; with --stream one event per line)", "text")
    .addHelpText("after", `
Examples:
  flowplane invoke support-bot --input "Where is my order?"
  echo "Summarise this" | flowplane invoke support-bot --input - --stream`)
    .action(async (ref: string, flowRef: string | undefined, o: { input?: string; session?: string; stream?: boolean; requestTimeout: string; output: string }) => {
      if (o.output !== "text" && o.output !== "json") throw usageError(`-o ${o.output}: choose text or json`);
      if (o.input === undefined) throw usageError("give the input: --input TEXT, or --input - to read it from stdin");
      const input = o.input === "-" ? chompNewline(await io.readStdin("--input -")) : o.input;
      const timeoutMs = Number(o.requestTimeout) * 1000;
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw usageError("--request-timeout: give a number of seconds");
      const { deployment } = await session.deployment(ref);
      if (deployment.deletedAt || deployment.deletionRequestedAt) throw new CliError(Exit.notFound, `deployment "${deployment.displayName}" is undeployed`);
      const client = await session.client();
      const endpoint = deployment.endpoints.http;
      const flow = await pickFlow(client, endpoint, flowRef);
      const session_id = o.session !== undefined ? { session_id: o.session } : {};
      const url = o.stream ? `${endpoint}/api/v1/run/${encodeURIComponent(flow.id)}?stream=true` : `${endpoint}/flows/${encodeURIComponent(flow.id)}/run`;
      const body = o.stream ? { input_value: input, input_type: "chat", output_type: "chat", ...session_id } : { input_value: input, ...session_id };
      const res = await client.fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }, timeoutMs);
      if (o.stream && res.ok) return printStream(io, res, o.output === "json");
      const text = await res.text();
      let answer: { result?: unknown; success?: boolean } | undefined;
      try {
        answer = JSON.parse(text) as typeof answer;
      } catch {
        answer = undefined;
      }
      // A failed run keeps lfx serve's answer shape ({success: false, result}), not the error envelope.
      if (answer && answer.success === false) {
        if (o.output === "json") out(io, JSON.stringify(answer, null, 2));
        throw new CliError(Exit.unexpected, `the flow failed: ${typeof answer.result === "string" ? answer.result : JSON.stringify(answer.result)}`);
      }
      if (!res.ok) throw client.errorOf(res.status, text);
      if (o.output === "json") return out(io, JSON.stringify(answer, null, 2));
      out(io, answerText(io)(typeof answer?.result === "string" ? answer.result : JSON.stringify(answer?.result, null, 2)));
    });
}
