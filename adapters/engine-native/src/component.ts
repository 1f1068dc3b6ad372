import type { EnvMap, Flow, FlowNode, SpanSink, StreamSink } from "@flowplane/core/replica";
import type { MessageStore } from "./memory-store.js";
import type { SqlQuery } from "./sql-client.js";
import type { Message } from "./values.js";

/** What the engine gives components for side effects; injected so tests stay on loopback. */
export interface EngineServices {
  /** HTTP to the model providers the deployment configured (their base URLs are its parameters). */
  fetch: typeof fetch;
  /**
   * HTTP to addresses a flow's input can name (URL, API Request, Web Search, arXiv): loopback,
   * private and reserved networks refused unless the operator allows them (outbound.ts).
   */
  outbound: typeof fetch;
  memory: MessageStore;
  /** SQL queries (the SQL Database component): PostgreSQL through `pg` by default. */
  sql: SqlQuery;
}

/** One run of one flow, shared by its nodes. */
export interface RunState {
  flow: Flow;
  sessionId: string;
  /** This run's id (a UUID), stamped on its messages as Langflow's `run_id`. */
  runId: string;
  /** Global variables for this run: the deployment's, then the request's `global_vars`. */
  env: EnvMap;
  sink: StreamSink | undefined;
  /** Where each component's span goes when the run is traced (trace.ts). */
  trace?: SpanSink;
  /** For fetch and SDK calls; made when first read. */
  readonly signal: AbortSignal;
  /** The run was cancelled (timeout, client gone): read between nodes without making `signal`. */
  readonly aborted: boolean;
  services: EngineServices;
  /** The session's stored messages as they were when the run began (what Memory reads). */
  history: readonly Message[];
  /**
   * Messages are stored for later runs (Langflow's message history): only when a loaded flow has
   * a component that reads them (`readsHistory`), or when the engine was given its store.
   */
  remember: boolean;
}

/** A node's view of its inputs while it runs. */
export interface NodeContext {
  node: FlowNode;
  run: RunState;
  /** The upstream value when the field is connected (a list for multi-edge fields), else the field's own value. */
  value(field: string): unknown;
  /** The value as text (Message and Data give their text). */
  text(field: string): string;
  bool(field: string, fallback: boolean): boolean;
  number(field: string, fallback: number): number;
  connected(field: string): boolean;
  /** The node feeding a connected field. */
  source(field: string): FlowNode | undefined;
  /**
   * That node's own field values in this run (the export's with this run's tweaks, input and
   * variables; not what edges feed it): what it was configured with, as lfx reads a source
   * component's attributes.
   */
  sourceFields(field: string): Readonly<Record<string, unknown>>;
  /** A log line for the component's `logs` in the run result. */
  log(message: string): void;
  /** For a Loop: runs its body once per item, in order, and gives each pass's result. */
  runLoopBody(items: readonly unknown[]): Promise<unknown[]>;
}

/**
 * An output's value: at once when the component has nothing to wait for, else a native Promise
 * (an async function's: run.ts waits for `instanceof Promise` only, so a promise-like object from
 * some SDK is awaited inside the method, not returned). A method that answers at once keeps the
 * run synchronous (run.ts), which in a replica under load costs less than a chain of promises:
 * write one as a plain function unless it awaits something.
 */
export type OutputMethod = (ctx: NodeContext) => unknown;

/**
 * A component type the native engine implements. Outputs are keyed by Langflow's *method*
 * name (`message_response`, `build_prompt`, ...), the name a tool-mode component's tools carry
 * too, so one implementation serves both an edge and an agent's tool call.
 */
export interface ComponentDef {
  methods: Record<string, OutputMethod>;
  /** Langflow's interface roles: inputs receive the run's `input_value`, outputs are reported. */
  role?: "input" | "output";
  /** The field that receives `input_value` (default `input_value`). */
  inputField?: string;
  /** It reads the stored messages of earlier runs (Memory, Agent, Memory Base). */
  readsHistory?: boolean;
  /** Load-time checks beyond the graph (e.g. an unsupported model provider). */
  check?(node: FlowNode): string[];
}

type CoreContext = Pick<NodeContext, "node" | "run" | "value" | "connected" | "source" | "sourceFields" | "log" | "runLoopBody">;

/** Completes a context from its `value` accessor, so a tool call can swap `value` alone. */
export function deriveContext(core: CoreContext, toText: (v: unknown) => string): NodeContext {
  const ctx: NodeContext = {
    ...core,
    text: (field) => toText(ctx.value(field)),
    bool(field, fallback) {
      const v = ctx.value(field);
      return typeof v === "boolean" ? v : typeof v === "string" && v !== "" ? v.toLowerCase() === "true" : fallback;
    },
    number(field, fallback) {
      const v = ctx.value(field);
      const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
      return Number.isFinite(n) ? n : fallback;
    },
  };
  return ctx;
}
