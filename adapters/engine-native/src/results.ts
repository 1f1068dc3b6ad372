import type { ComponentResult, FlowNode } from "@flowplane/core/replica";
import { Data, DataFrame, Message, toJsonValue, toText } from "./values.js";

/**
 * A component's outputs in the shape of Langflow's `ResultData` (the entries of
 * `outputs[].outputs` in the run response).
 */

function outputLog(value: unknown): { message: unknown; type: string } {
  if (value instanceof Message) return { message: value.text, type: "text" };
  if (value instanceof Data) return { message: value.data, type: "object" };
  if (value instanceof DataFrame) return { message: value.rows, type: "array" };
  if (Array.isArray(value)) return { message: toJsonValue(value), type: "array" };
  if (typeof value === "string") return { message: value, type: "text" };
  return { message: toJsonValue(value) ?? null, type: "object" };
}

/**
 * lfx's ChatOutputResponse makes a machine's text Markdown-safe: every line break becomes a
 * blank line (`\n\n` first folded to `\n`, so none is doubled twice). It is what the artifact
 * and the `messages` entry carry; the message itself keeps its text.
 */
export function chatResponseText(text: string, sender: string | null): string {
  return sender === "Machine" ? text.replaceAll("\n\n", "\n").replaceAll("\n", "\n\n") : text;
}

function artifact(value: unknown): Record<string, unknown> {
  if (value instanceof Message) {
    return { message: chatResponseText(value.text, value.sender), sender: value.sender, sender_name: value.senderName, files: value.files, type: "object" };
  }
  const log = outputLog(value);
  return { repr: toText(value), raw: log.message, type: log.type };
}

export function componentResult(node: FlowNode, outputs: ReadonlyMap<string, unknown>, logs: ReadonlyMap<string, string[]>, chatComponent: boolean): ComponentResult {
  const results: Record<string, unknown> = {};
  const outs: Record<string, unknown> = {};
  const logObj: Record<string, unknown[]> = {};
  let artifacts: Record<string, unknown> = {};
  const messages: Record<string, unknown>[] = [];
  for (const [name, value] of outputs) {
    results[name] = toJsonValue(value);
    outs[name] = outputLog(value);
    logObj[name] = (logs.get(name) ?? []).map((message) => ({ name, message, type: "text" }));
    // One output: Langflow's artifacts are that output's; several: keyed by output name.
    artifacts = outputs.size === 1 ? artifact(value) : { ...artifacts, [name]: artifact(value) };
    if (chatComponent && value instanceof Message) {
      messages.push({
        message: chatResponseText(value.text, value.sender),
        sender: value.sender,
        sender_name: value.senderName,
        session_id: value.sessionId,
        stream_url: null,
        component_id: node.id,
        files: value.files,
        type: "text",
      });
    }
  }
  return {
    results,
    artifacts,
    outputs: outs,
    logs: logObj,
    messages,
    timedelta: null,
    duration: null,
    component_display_name: node.displayName,
    component_id: node.id,
    used_frozen_result: false,
    // As lfx reports it: the model's usage on the component that called it, null elsewhere.
    token_usage: chatComponent ? null : usageOf(outputs),
  };
}

/** The token usage a model component's Message output carries, or null. */
function usageOf(outputs: ReadonlyMap<string, unknown>): ComponentResult["token_usage"] {
  for (const value of outputs.values()) if (value instanceof Message && value.properties.usage) return value.properties.usage;
  return null;
}
