import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fixturePath, loadFixture } from "@flowplane/testkit";

/**
 * The flow files the tests upload: memory-chatbot as exported (one credential, OPENAI_API_KEY),
 * and a second version whose chat output's sender name is bound to a global variable, so the
 * version change has a parameter that differs (BOT_NAME, a plain parameter).
 */
export async function flowFiles(dir: string): Promise<{ v1: string; v2: string }> {
  const flow = loadFixture("memory-chatbot") as { data: { nodes: { data: { type: string; node: { template: Record<string, Record<string, unknown>> } } }[] } };
  const output = flow.data.nodes.find((n) => n.data.type === "ChatOutput")!;
  output.data.node.template.sender_name = { ...output.data.node.template.sender_name, load_from_db: true, value: "BOT_NAME" };
  const v2 = join(dir, "memory-chatbot-v2.json");
  await writeFile(v2, JSON.stringify(flow));
  return { v1: fixturePath("memory-chatbot"), v2 };
}
