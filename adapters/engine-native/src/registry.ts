import type { ComponentDef } from "./component.js";
import { agentComponents } from "./components/agent.js";
import { calculatorComponents } from "./components/calculator.js";
import { httpComponents } from "./components/http.js";
import { ioComponents } from "./components/io.js";
import { llmComponents } from "./components/llm.js";
import { memoryComponents } from "./components/memory.js";
import { memoryBaseComponents } from "./components/memory-base.js";
import { sqlComponents } from "./components/sql.js";
import { loopComponents } from "./components/loop.js";
import { arxivComponents } from "./components/arxiv.js";
import { batchRunComponents } from "./components/batch-run.js";
import { fileComponents } from "./components/file.js";
import { saveFileComponents } from "./components/save-file.js";
import { splitTextComponents } from "./components/split-text.js";
import { webSearchComponents } from "./components/web-search.js";
import { textComponents } from "./components/text.js";

/**
 * Every component type (`data.type`) the native engine runs. core's NATIVE_COMPONENTS must list
 * exactly these keys (registry.test.ts checks it), so the compatibility report given at publish
 * time matches what a replica can load.
 */
export const registry: Readonly<Record<string, ComponentDef>> = {
  ...ioComponents,
  ...textComponents,
  ...httpComponents,
  ...llmComponents,
  ...agentComponents,
  ...memoryComponents,
  ...calculatorComponents,
  ...memoryBaseComponents,
  ...webSearchComponents,
  ...splitTextComponents,
  ...batchRunComponents,
  ...saveFileComponents,
  ...fileComponents,
  ...arxivComponents,
  ...loopComponents,
  ...sqlComponents,
};
