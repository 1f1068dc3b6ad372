import { FlowRunError, nativeModelProblem, type FlowNode } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { chatCompletion, type ChatMessage, type ChatModel } from "../chat.js";
import { Data, isTool, Message, type MessageField, type Tool } from "../values.js";
import { augmentedSystemPrompt, recordSchema, structuredData, type RecordSchema } from "./structured-output.js";
import { evaluateArithmetic, formatResult } from "./calculator.js";
import { modelOf } from "./llm.js";

/** The keywords of lfx's `_build_initial_agent_message`, in its order. */
const AGENT_MESSAGE_KWARGS: readonly MessageField[] = ["sender", "sender_name", "properties", "text", "content_blocks", "session_id"];

/** lfx's `get_chat_output_sender_name`: the sender name of the flow's first Chat Output. */
function chatOutputSenderName(ctx: NodeContext): string {
  const out = ctx.run.flow.nodes.find((n) => n.type === "ChatOutput");
  const v = out?.template.sender_name?.value;
  return typeof v === "string" ? v : "";
}

/**
 * Langflow's Agent with tool calling (on any provider native speaks): system prompt, the session's recent history, the
 * input; the model may call the connected tools (components in tool mode) and the current
 * date tool, up to `max_iterations` rounds. Each call is recorded in the message's
 * "Agent Steps" content block, as Langflow shows it.
 */

const currentDateTool: Tool = {
  name: "get_current_date",
  description: "Returns the current date and time in a selected timezone.",
  parameters: { type: "object", properties: { timezone: { type: "string", description: "An IANA timezone, e.g. UTC" } } },
  async invoke(args) {
    const timeZone = typeof args.timezone === "string" && args.timezone ? args.timezone : "UTC";
    try {
      const text = new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short", timeStyle: "long", hourCycle: "h23" }).format(new Date());
      return `Current date and time in ${timeZone}: ${text}`;
    } catch {
      return `Error: unknown timezone ${timeZone}`;
    }
  },
};

function agentModel(ctx: NodeContext): ChatModel {
  const connected = ctx.value("agent_llm");
  if (typeof connected === "object" && connected !== null && (connected as { kind?: unknown }).kind === "chat-model") {
    const { kind: _kind, ...model } = connected as ChatModel & { kind: string };
    return model;
  }
  return modelOf(ctx);
}

/** The session's history, as lfx's `build_initial_messages` reads it: blank turns skipped. */
function history(ctx: NodeContext): ChatMessage[] {
  const n = ctx.number("n_messages", 100);
  if (n <= 0) return [];
  const own = ctx.run.history.filter((m) => m.sessionId === ctx.run.sessionId && m.flowId === ctx.run.flow.id);
  return own.slice(-n).filter((m) => m.text.trim() !== "" || m.files.length > 0).map((m) => ({ role: m.sender === "User" ? "user" : "assistant", content: m.text }));
}

/** lfx's CONTINUE_MESSAGE: what the agent sends as the user's turn when the input is blank. */
export const CONTINUE_MESSAGE = "Continue the conversation.";

/**
 * lfx's `_inject_dynamic_prompt_values`: `{current_date}` (UTC day), `{model_name}` and
 * `{optional_user_context}` (empty) replaced literally, other braces left alone.
 */
function systemPrompt(ctx: NodeContext, model: ChatModel): string {
  return ctx.text("system_prompt")
    .replaceAll("{current_date}", new Date().toISOString().slice(0, 10))
    .replaceAll("{model_name}", model.model)
    .replaceAll("{optional_user_context}", "");
}

/** The Calculator lfx's Agent adds by default (`add_calculator_tool`), over the Calculator component's own method. */
const calculatorTool: Tool = {
  name: "evaluate_expression",
  description: "Perform basic arithmetic operations on a given expression.",
  parameters: { type: "object", properties: { expression: { type: "string", default: "", description: "The arithmetic expression to evaluate (e.g., '4*4*(33/22)+12-20')." } } },
  async invoke(args) {
    const expression = typeof args.expression === "string" ? args.expression : "";
    try {
      return JSON.stringify({ result: formatResult(evaluateArithmetic(expression)) });
    } catch (err) {
      return JSON.stringify({ error: `Error evaluating expression: ${(err as Error).message}`, input: expression });
    }
  },
};

/** The agent's tools as lfx's `get_agent_requirements` gives them: the connected ones, then the built-in ones. */
function agentTools(ctx: NodeContext): Tool[] {
  const value = ctx.value("tools");
  const tools: Tool[] = (Array.isArray(value) ? value.flat() : [value]).filter(isTool);
  // As lfx: the built-in tools follow the connected ones, unless one of those has the name.
  for (const [on, tool] of [[ctx.bool("add_current_date_tool", true), currentDateTool], [ctx.bool("add_calculator_tool", true), calculatorTool]] as const) {
    if (on && !tools.some((t) => t.name === tool.name)) tools.push(tool);
  }
  return tools;
}

async function respond(ctx: NodeContext): Promise<Message> {
  return runAgent(ctx, (model) => systemPrompt(ctx, model));
}

/**
 * The Agent's `structured_response` (lfx's `json_response`). With tools (lfx counts the built-in
 * date and calculator tools too) lfx takes its prompt fallback: the agent runs with the schema
 * in its system prompt and the JSON in its answer is parsed (structured-output.ts). Without
 * tools lfx asks the provider's own structured output, which native does not implement: the
 * compatibility report refuses such an Agent, and a tweak that removes every tool fails the run.
 */
async function jsonResponse(ctx: NodeContext): Promise<Data> {
  const schema = ctx.value("output_schema");
  const rows = Array.isArray(schema) ? (schema as Record<string, unknown>[]) : [];
  if (rows.length === 0) return new Data({ content: ctx.text("input_value") });
  if (agentTools(ctx).length === 0) {
    throw new FlowRunError("structured_response without tools uses the model's own structured output, which the native engine does not implement", ctx.node.id, ctx.node.displayName);
  }
  let records: RecordSchema;
  try {
    records = recordSchema(rows);
  } catch (err) {
    // lfx catches the orchestrator's ValueError into this Data.
    return new Data({ content: "", error: (err as Error).message });
  }
  const answer = await runAgent(ctx, (model) => augmentedSystemPrompt(systemPrompt(ctx, model), ctx.text("format_instructions"), records));
  return structuredData(answer.text, records);
}

async function runAgent(ctx: NodeContext, systemFor: (model: ChatModel) => string): Promise<Message> {
  const model = agentModel(ctx);
  const tools = agentTools(ctx);
  const byName = new Map(tools.map((t) => [t.name, t]));
  const messages: ChatMessage[] = [];
  const system = systemFor(model);
  if (system.trim()) messages.push({ role: "system", content: system });
  const input = ctx.text("input_value");
  messages.push(...history(ctx), { role: "user", content: input.trim() ? input : CONTINUE_MESSAGE });
  const steps: Record<string, unknown>[] = [];
  const specs = tools.map((t) => ({ type: "function" as const, function: { name: t.name, description: t.description, parameters: t.parameters } }));
  const max = Math.max(1, ctx.number("max_iterations", 15));
  for (let round = 0; round < max; round++) {
    const answer = await chatCompletion(ctx.run.services.fetch, model, messages, { tools: specs, signal: ctx.run.signal });
    if (!answer.tool_calls?.length) {
      // lfx's `_build_initial_agent_message`, in its keyword order, then completed.
      const message = new Message(
        {
          sender: "Machine",
          senderName: chatOutputSenderName(ctx) || ctx.node.displayName || "AI",
          properties: { icon: "Bot", state: "partial" },
          text: "",
          contentBlocks: [],
          sessionId: ctx.run.sessionId,
        },
        AGENT_MESSAGE_KWARGS,
      );
      message.text = answer.content ?? "";
      message.properties.state = "complete";
      message.properties.source = { id: ctx.node.id, display_name: ctx.node.displayName, source: model.model };
      // Tool calls, when there were any, as the steps block (what lfx 1.13 shows for them is not compared yet).
      if (steps.length > 0) message.contentBlocks = [{ title: "Agent Steps", contents: steps, allow_markdown: true, media_url: null }];
      return message;
    }
    messages.push(answer);
    for (const call of answer.tool_calls) {
      const tool = byName.get(call.function.name);
      let output: string;
      let args: Record<string, unknown> = {};
      try {
        args = JSON.parse(call.function.arguments || "{}") as Record<string, unknown>;
        output = tool ? await tool.invoke(args, ctx.run.signal) : `Error: no tool named ${call.function.name}`;
      } catch (err) {
        // A failing tool is reported to the model, as LangChain's agent executor does, not to the caller.
        output = `Error: ${(err as Error).message}`;
      }
      ctx.log(`tool ${call.function.name} called`);
      steps.push({ type: "tool_use", name: call.function.name, tool_input: args, output, error: null });
      messages.push({ role: "tool", tool_call_id: call.id, content: output });
    }
  }
  throw new FlowRunError(`the agent stopped after ${max} iterations without a final answer`, ctx.node.id, ctx.node.displayName);
}

const agent: ComponentDef = {
  readsHistory: true,
  check(node: FlowNode) {
    const problem = nativeModelProblem(node);
    return problem ? [problem] : [];
  },
  methods: { message_response: respond, json_response: jsonResponse },
};

export const agentComponents: Record<string, ComponentDef> = { Agent: agent };
