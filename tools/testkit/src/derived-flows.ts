/**
 * Flows the equivalence suite derives from Langflow 1.13's starters to reach a component whose
 * starter needs an outside service: the same components (their exported code and settings),
 * with the outside part replaced by a local one both engines run. Each is compared byte for
 * byte like a starter, but reported apart: the F2 figures count starters only.
 */

type Raw = Record<string, unknown>;
interface RawNode { id: string; data: { id: string; type: string; node: Raw } }
interface RawFlow { id?: string; name?: string; data: { nodes: RawNode[]; edges: Raw[] } }

const edge = (source: string, sourceType: string, output: string, outputTypes: string[], target: string, field: string, inputTypes: string[]): Raw => ({
  id: `derived-${source}-${target}-${field}`,
  source,
  target,
  data: {
    sourceHandle: { dataType: sourceType, id: source, name: output, output_types: outputTypes },
    targetHandle: { fieldName: field, id: target, inputTypes, type: "other" },
  },
});

/**
 * "Research Translation Loop" with its arXiv search replaced by Split Text (the node Hybrid
 * Search RAG carries) over the chat input, split on spaces into chunks of at most 10
 * characters, the Parser's pattern also showing the chunk: the Loop runs its body (Parser,
 * then the model) once per chunk.
 */
export function loopOverSplitText(starters: readonly { name: string; raw: Raw }[]): { name: string; raw: Raw } | null {
  const loop = starters.find((s) => s.name === "Research Translation Loop")?.raw as RawFlow | undefined;
  const rag = starters.find((s) => s.name === "Hybrid Search RAG")?.raw as RawFlow | undefined;
  const split = rag?.data.nodes.find((n) => n.data.type === "SplitText");
  if (!loop || !split) return null;
  const flow = structuredClone(loop);
  const splitNode = structuredClone(split);
  const splitId = "SplitText-derived";
  splitNode.id = splitId;
  splitNode.data.id = splitId;
  const template = splitNode.data.node.template as Record<string, Raw>;
  (template.separator as Raw).value = " ";
  (template.chunk_size as Raw).value = 10;
  (template.chunk_overlap as Raw).value = 0;
  const arxiv = flow.data.nodes.find((n) => n.data.type === "ArXivComponent");
  const chat = flow.data.nodes.find((n) => n.data.type === "ChatInput");
  const loopNode = flow.data.nodes.find((n) => n.data.type === "LoopComponent");
  const parser = flow.data.nodes.find((n) => n.data.type === "ParserComponent");
  if (!arxiv || !chat || !loopNode || !parser) return null;
  // The chunk's own text into each pass's prompt, so every pass asks the model something else
  // (the arXiv fields stay, missing: a Data item's missing key formats as "").
  const pattern = (parser.data.node.template as Record<string, Raw>).pattern as Raw;
  pattern.value = `${String(pattern.value)}\nChunk: {text}`;
  flow.data.nodes = flow.data.nodes.filter((n) => n !== arxiv).concat(splitNode);
  flow.data.edges = flow.data.edges.filter((e) => e.source !== arxiv.id && e.target !== arxiv.id).concat(
    edge(chat.id, "ChatInput", "message", ["Message"], splitId, "data_inputs", ["Data", "JSON", "DataFrame", "Table", "Message"]),
    edge(splitId, "SplitText", "dataframe", ["Table"], loopNode.id, "data", ["DataFrame", "Table", "Data", "Message"]),
  );
  flow.id = "6c1d0a8e-1f0b-4e2b-9d1a-5b1177e00001";
  flow.name = "Loop over Split Text (derived)";
  return { name: "Research Translation Loop (arXiv replaced by Split Text)", raw: flow as unknown as Raw };
}

/** The id of `fileToChatOutput`'s flow and of its Read File node (the starters' File node keeps its id). */
export const FILE_FLOW_ID = "6c1d0a8e-1f0b-4e2b-9d1a-5b1177e00002";

/**
 * Read File straight into Chat Output: Langflow 1.13's File node (the Portfolio Website Code
 * Generator starter's, the same code as in the three other starters using it) and Basic
 * Prompting's Chat Output, so the answer shows the whole message Read File builds (its text and
 * the metadata keywords lfx adds: file_path, filename, file_size, mimetype, encoding,
 * source_files), not only what a model would be sent. `fileNodeId` is the node to tweak.
 */
export function fileToChatOutput(starters: readonly { name: string; raw: Raw }[]): { name: string; raw: Raw; fileNodeId: string } | null {
  const portfolio = starters.find((s) => s.name === "Portfolio Website Code Generator")?.raw as RawFlow | undefined;
  const basic = starters.find((s) => s.name === "Basic Prompting")?.raw as RawFlow | undefined;
  const file = portfolio?.data.nodes.find((n) => n.data.type === "File");
  const out = basic?.data.nodes.find((n) => n.data.type === "ChatOutput");
  if (!file || !out) return null;
  const flow: RawFlow = {
    id: FILE_FLOW_ID,
    name: "Read File to Chat Output (derived)",
    data: { nodes: [structuredClone(file), structuredClone(out)], edges: [edge(file.id, "File", "message", ["Message"], out.id, "input_value", ["Data", "DataFrame", "Message"])] },
  };
  return { name: "Read File to Chat Output (File and Chat Output of the starters)", raw: flow as unknown as Raw, fileNodeId: file.id };
}
