import { loadFixture } from "@flowplane/testkit";

/**
 * Test fixture: memory-chatbot with its prompt (the LLM's system message) bound to a plain
 * parameter, PERSONA, so a test reads both a parameter (the system message) and a credential (the
 * Authorization header) off the requests a fake LLM records: what the replica really runs with.
 */
export function personaChatbot(): Record<string, unknown> {
  const flow = structuredClone(loadFixture("memory-chatbot")) as { data: { nodes: { data: { type: string; node: { template: Record<string, Record<string, unknown>> } } }[] } };
  const prompt = flow.data.nodes.find((n) => n.data.type === "Prompt")!;
  prompt.data.node.template.template = { ...prompt.data.node.template.template, load_from_db: true, value: "PERSONA" };
  return flow;
}
