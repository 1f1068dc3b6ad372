import { FlowRunError, nativeModelProblem, type FlowNode } from "@flowplane/core";
import type { ComponentDef, NodeContext } from "../component.js";
import { chatCompletion, type ChatMessage, type ChatModel } from "../chat.js";
import { isTool, Message, type Tool } from "../values.js";
import { modelOf } from "./llm.js";

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

function history(ctx: NodeContext): ChatMessage[] {
  const n = ctx.number("n_messages", 100);
  const own = ctx.run.history.filter((m) => m.sessionId === ctx.run.sessionId);
  return (n > 0 ? own.slice(-n) : own).map((m) => ({ role: m.sender === "User" ? "user" : "assistant", content: m.text }));
}

async function respond(ctx: NodeContext): Promise<Message> {
  const model = agentModel(ctx);
  const value = ctx.value("tools");
  const tools: Tool[] = (Array.isArray(value) ? value.flat() : [value]).filter(isTool);
  if (ctx.bool("add_current_date_tool", true)) tools.push(currentDateTool);
  const byName = new Map(tools.map((t) => [t.name, t]));
  const messages: ChatMessage[] = [];
  const system = ctx.text("system_prompt");
  if (system) messages.push({ role: "system", content: system });
  messages.push(...history(ctx), { role: "user", content: ctx.text("input_value") });
  const steps: Record<string, unknown>[] = [];
  const specs = tools.map((t) => ({ type: "function" as const, function: { name: t.name, description: t.description, parameters: t.parameters } }));
  const max = Math.max(1, ctx.number("max_iterations", 15));
  for (let round = 0; round < max; round++) {
    const answer = await chatCompletion(ctx.run.services.fetch, model, messages, { tools: specs, signal: ctx.run.signal });
    if (!answer.tool_calls?.length) {
      return new Message({
        text: answer.content ?? "",
        sender: "Machine",
        senderName: ctx.node.displayName || "Agent",
        sessionId: ctx.run.sessionId,
        runId: ctx.run.runId,
        flowId: ctx.run.flow.id,
        properties: { icon: "Bot", source: { id: ctx.node.id, display_name: ctx.node.displayName, source: model.model } },
        contentBlocks: [{ title: "Agent Steps", contents: steps, allow_markdown: true, media_url: null }],
      });
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
  check(node: FlowNode) {
    const problem = nativeModelProblem(node);
    return problem ? [problem] : [];
  },
  methods: { message_response: respond },
};

export const agentComponents: Record<string, ComponentDef> = { Agent: agent };
