import { randomUUID } from "node:crypto";
import { langflowTimestamp } from "@flowplane/core/replica";

/**
 * Langflow's three data types as they travel along edges. Their JSON forms follow what
 * Langflow's pydantic models dump (field names, defaults), because run responses and stream
 * events carry them to clients that were written against Langflow.
 */

export interface MessageSource {
  id: string | null;
  display_name: string | null;
  source: string | null;
}

export interface MessageProperties {
  text_color: string | null;
  background_color: string | null;
  edited: boolean;
  source: MessageSource;
  icon: string | null;
  allow_markdown: boolean;
  positive_feedback: boolean | null;
  state: "complete" | "partial";
  targets: unknown[];
  /** The model's token usage, when the message is an LLM's answer (Langflow 1.13). */
  usage: { input_tokens: number | null; output_tokens: number | null; total_tokens: number | null } | null;
  /** Seconds the source component took to build; lfx leaves it null in run results. */
  build_duration: number | null;
}

export function defaultProperties(): MessageProperties {
  return {
    text_color: null,
    background_color: null,
    edited: false,
    source: { id: null, display_name: null, source: null },
    icon: null,
    allow_markdown: false,
    positive_feedback: null,
    state: "complete",
    targets: [],
    usage: null,
    build_duration: null,
  };
}

/** A Langflow Data: a JSON object plus the key that holds its text. */
export class Data {
  constructor(
    public data: Record<string, unknown> = {},
    public textKey = "text",
    public defaultValue = "",
  ) {}

  get text(): string {
    const v = this.data[this.textKey];
    return v === undefined || v === null ? this.defaultValue : typeof v === "string" ? v : JSON.stringify(v);
  }

  toJSON(): Record<string, unknown> {
    return { text_key: this.textKey, data: this.data, default_value: this.defaultValue };
  }

  /**
   * lfx's `safe_convert` of a Data (what Chat Output shows): its dict as indented JSON in a
   * ```json fence, blank lines emptied and runs of three or more newlines made two (`clean_string`).
   */
  toChatText(): string {
    const fenced = `\`\`\`json\n${JSON.stringify(this.data, null, 2)}\n\`\`\``;
    return fenced.replace(/^\s*$/gm, "").replace(/\n{3,}/g, "\n\n");
  }
}

export interface MessageInit {
  text?: string;
  sender?: string | null;
  senderName?: string | null;
  sessionId?: string;
  contextId?: string;
  /** The run that made the message (Langflow 1.13's `run_id`). */
  runId?: string | null;
  flowId?: string | null;
  files?: string[];
  properties?: Partial<MessageProperties>;
  contentBlocks?: unknown[];
  error?: boolean;
  category?: "message" | "error" | "warning" | "info";
  /**
   * Keywords lfx passes beyond the model's fields (Read File's `file_path`, `filename`, ...):
   * kept in the `data` dict only, after the listed keywords, in this order.
   */
  extra?: Record<string, unknown>;
}

/** A Message field by its Langflow name (the keys of the message's `data` dict). */
export type MessageField =
  | "text" | "sender" | "sender_name" | "files" | "session_id" | "context_id" | "run_id" | "timestamp" | "flow_id"
  | "error" | "edit" | "properties" | "category" | "content_blocks" | "duration" | "session_metadata";

/** lfx's Message model fields in declaration order (`text` is computed, so not among them). */
const MODEL_FIELDS: readonly MessageField[] = [
  "sender", "sender_name", "files", "session_id", "context_id", "run_id", "timestamp", "flow_id",
  "error", "edit", "properties", "category", "content_blocks", "duration", "session_metadata",
];

/**
 * `langflowTimestamp(new Date())`, formatted once per millisecond: a run stamps several messages
 * within one, and under load several runs do. The date and time up to the second are formatted
 * once per second, the milliseconds appended (`Date#toISOString` was about 1% of a short flow's
 * run at full load). A cache of a pure function of the clock's value.
 */
const clockText = { ms: Number.NaN, second: Number.NaN, upToSecond: "", text: "" };
export function langflowTimestampNow(): string {
  const ms = Date.now();
  if (ms !== clockText.ms) {
    const second = Math.floor(ms / 1000);
    if (second !== clockText.second) {
      // "YYYY-MM-DD HH:MM:SS." of "YYYY-MM-DD HH:MM:SS.mmm000 UTC"
      clockText.upToSecond = langflowTimestamp(new Date(second * 1000)).slice(0, -10);
      clockText.second = second;
    }
    const milli = ms - second * 1000;
    // A year outside 0000..9999 (toISOString writes "+010000-01-01T00:00:00.000Z"): not that shape, formatted whole.
    clockText.text = !clockText.upToSecond.endsWith(".") ? langflowTimestamp(new Date(ms)) : `${clockText.upToSecond}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}000 UTC`;
    clockText.ms = ms;
  }
  return clockText.text;
}

/** The `extra` of a Message given none (never written to). */
const NO_EXTRA: Readonly<Record<string, unknown>> = Object.freeze({});

/** The keywords of `Message({text})`, lfx's most common form. */
const TEXT_ONLY: readonly MessageField[] = ["text"];

/** What a keyword list decides for every Message built with it: `data`'s key order, and whether values are kept as given. */
interface MessageShape {
  keys: readonly MessageField[];
  snapshots: boolean;
}

/** Per keyword list (a module constant at each call site), worked out once. */
const shapes = new WeakMap<readonly MessageField[], MessageShape>();

function shapeOf(kwargs: readonly MessageField[]): MessageShape {
  let shape = shapes.get(kwargs);
  if (shape) return shape;
  const keys: MessageField[] = [...kwargs];
  for (const f of ["files" as const, ...MODEL_FIELDS]) if (!keys.includes(f)) keys.push(f);
  if (!keys.includes("text")) keys.push("text");
  shape = { keys, snapshots: kwargs.includes("properties") || kwargs.includes("content_blocks") };
  shapes.set(kwargs, shape);
  return shape;
}

/** A Langflow Message (a Data whose text is the chat text, plus chat metadata). */
export class Message {
  text: string;
  sender: string | null;
  senderName: string | null;
  sessionId: string;
  contextId: string;
  runId: string | null;
  flowId: string | null;
  files: string[];
  timestamp: string;
  properties: MessageProperties;
  contentBlocks: unknown[];
  error: boolean;
  edit = false;
  category: "message" | "error" | "warning" | "info";
  /** The id, once made (see `id`). */
  private idValue: string | null = null;
  /** The message was stored: it has an id, made when first read (see `assignId`). */
  private stored = false;
  duration: number | null = null;
  /** An LLM answer still arriving (Langflow streams it into the Chat Output as `token` events). */
  stream: AsyncIterable<string> | null = null;

  /**
   * The keys of lfx's `data` dict, in its order. lfx's Data copies the constructor's keyword
   * arguments into `data` in the order given; Message's post-init assigns `files`, and that
   * validated assignment adds every model field still missing, in field order (files first,
   * the assigned one); `text` comes last when it was not given. Serialised results show that
   * order, so a component builds its Message with the keywords its lfx counterpart passes.
   */
  private readonly dataKeys: readonly MessageField[];
  /** Values lfx keeps in `data` as given (a `properties` dict, a `content_blocks` list), not the live model value; null: none. */
  private readonly dataSnapshot: Map<MessageField, unknown> | null = null;
  /** `init.extra`: lfx's `data` keys that are no model field. */
  readonly extra: Readonly<Record<string, unknown>>;
  /** How many keywords the component passed (`extra` goes after them in `data`). */
  private readonly kwargCount: number;

  /**
   * `kwargs`: the Langflow names of the keywords lfx's component passes, in its order (default
   * `text` only). A module constant at each call site: the key order is worked out once per list.
   */
  constructor(init: MessageInit = {}, kwargs: readonly MessageField[] = TEXT_ONLY) {
    this.text = init.text ?? "";
    this.sender = init.sender ?? null;
    this.senderName = init.senderName ?? null;
    this.sessionId = init.sessionId ?? "";
    this.contextId = init.contextId ?? "";
    this.runId = init.runId ?? null;
    this.flowId = init.flowId ?? null;
    this.files = init.files ?? [];
    this.timestamp = langflowTimestampNow();
    this.properties = init.properties ? { ...defaultProperties(), ...init.properties } : defaultProperties();
    this.contentBlocks = init.contentBlocks ?? [];
    this.error = init.error ?? false;
    this.category = init.category ?? "message";
    this.extra = init.extra ?? NO_EXTRA;
    this.kwargCount = kwargs.length;
    const shape = shapeOf(kwargs);
    if (shape.snapshots) {
      this.dataSnapshot = new Map();
      if (kwargs.includes("properties")) this.dataSnapshot.set("properties", structuredClone(init.properties ?? {}));
      if (kwargs.includes("content_blocks")) this.dataSnapshot.set("content_blocks", structuredClone(init.contentBlocks ?? []));
    }
    this.dataKeys = shape.keys;
  }

  /**
   * Set when the message is stored (Langflow gives ids to stored messages only). Made when first
   * read: a random UUID is the same whenever it is drawn, and most stored messages' ids are never
   * read (`lfx serve`'s answer holds none), while making one cost a run a few hundred bytes.
   */
  get id(): string | null {
    if (this.stored && this.idValue === null) this.idValue = randomUUID();
    return this.idValue;
  }

  set id(value: string | null) {
    this.idValue = value;
  }

  /** The message is stored: it has an id from now on. */
  assignId(): void {
    this.stored = true;
  }

  /** The fields as Langflow names them; `toJSON` nests them once more under `data` as Data does. */
  private fields(): Record<string, unknown> {
    return {
      text: this.text,
      sender: this.sender,
      sender_name: this.senderName,
      files: this.files,
      session_id: this.sessionId,
      context_id: this.contextId,
      run_id: this.runId,
      timestamp: this.timestamp,
      flow_id: this.flowId,
      error: this.error,
      edit: this.edit,
      properties: this.properties,
      category: this.category,
      content_blocks: this.contentBlocks,
      duration: this.duration,
      // Langflow 1.13's per-session metadata; a flowplane replica keeps none.
      session_metadata: null,
    };
  }

  /**
   * As lfx dumps a Message: `text_key`, its `data` dict (keys in lfx's order, see `dataKeys`;
   * the stored message's `id` last), `default_value`, the model fields in declaration order,
   * then the computed `text`. The id lives in `data` only, as in lfx.
   */
  toJSON(): Record<string, unknown> {
    const fields = this.fields();
    const data: Record<string, unknown> = {};
    const snap = this.dataSnapshot;
    const keys = this.dataKeys;
    for (let i = 0; i < keys.length; i++) {
      // The extra keywords follow the listed ones (lfx: `Message(text=..., **metadata)`).
      if (i === this.kwargCount) Object.assign(data, this.extra);
      const k = keys[i] as MessageField;
      data[k] = snap?.has(k) ? snap.get(k) : fields[k];
    }
    if (this.id) data.id = this.id;
    const outer: Record<string, unknown> = { text_key: "text", data, default_value: "" };
    for (const k of MODEL_FIELDS) outer[k] = fields[k];
    outer.text = this.text;
    return outer;
  }

  /** The form of Langflow's `add_message` event payload (the stored message row). */
  toEvent(): Record<string, unknown> {
    return { ...this.fields(), id: this.id };
  }
}

/** A Langflow DataFrame, kept as its rows. */
export class DataFrame {
  constructor(public rows: Record<string, unknown>[] = []) {}

  get columns(): string[] {
    const cols: string[] = [];
    for (const row of this.rows) for (const k of Object.keys(row)) if (!cols.includes(k)) cols.push(k);
    return cols;
  }

  /** pandas' `to_markdown` shape (the form Langflow shows a DataFrame as text). */
  toMarkdown(): string {
    const cols = this.columns;
    if (cols.length === 0) return "";
    const cell = (v: unknown): string => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v)).replace(/\|/g, "\\|").replace(/\n/g, " ");
    const lines = [`|    | ${cols.join(" | ")} |`, `|---:|${cols.map(() => ":---").join("|")}|`];
    this.rows.forEach((row, i) => lines.push(`| ${String(i).padStart(2)} | ${cols.map((c) => cell(row[c])).join(" | ")} |`));
    return lines.join("\n");
  }

  toJSON(): Record<string, unknown>[] {
    return this.rows;
  }

  /**
   * lfx's `safe_convert` of a DataFrame (what Chat Output shows): line ends made `\n`, with
   * `clean` empty cells emptied and repeated newlines collapsed, a cell's outer newlines dropped
   * and inner ones made `<br/>`, `|` escaped, then pandas' `to_markdown(index=False)`: tabulate's
   * pipe table, columns padded to their widest cell (at least the header plus two), numbers
   * right-aligned. Cells that are not strings print as Python's `str` would (`pyStr`).
   */
  toChatMarkdown(clean: boolean): string {
    const cols = this.columns;
    if (cols.length === 0) return "";
    const cellText = (v: unknown): string => {
      // pandas holds a missing value as NaN/None, which tabulate prints as nothing.
      if (v === null || v === undefined) return "";
      if (typeof v !== "string") return pyCell(v);
      let t = v.replace(/\r\n?/g, "\n");
      if (clean) t = (/^\s*$/.test(t) ? "" : t).replace(/\n+/g, "\n");
      return t.replace(/^\n+|\n+$/g, "").replace(/\n/g, "<br/>").replace(/\|/g, "\\|");
    };
    const present = (c: string) => this.rows.map((r) => r[c]).filter((v) => v !== undefined && v !== null);
    const numeric = cols.map((c) => present(c).length > 0 && present(c).every((v) => typeof v === "number"));
    const cells = this.rows.map((r) => cols.map((c) => cellText(r[c])));
    // A column with a fraction is aligned on the decimal point, as tabulate does for floats.
    cols.forEach((c, i) => {
      if (!numeric[i] || present(c).every((v) => Number.isInteger(v))) return;
      const parts = cells.map((row) => {
        const t = row[i] ?? "";
        const dot = t.indexOf(".");
        return t === "" ? null : dot < 0 ? [t, ""] : [t.slice(0, dot), t.slice(dot)];
      });
      const left = Math.max(...parts.map((p) => p?.[0]?.length ?? 0));
      const right = Math.max(...parts.map((p) => p?.[1]?.length ?? 0));
      parts.forEach((p, r) => {
        if (p && cells[r]) cells[r][i] = `${(p[0] ?? "").padStart(left)}${(p[1] ?? "").padEnd(right)}`;
      });
    });
    const widths = cols.map((c, i) => Math.max(c.length + 2, ...cells.map((row) => (row[i] ?? "").length)));
    const pad = (t: string, i: number) => (numeric[i] ? t.padStart(widths[i] ?? 0) : t.padEnd(widths[i] ?? 0));
    const line = (row: string[]) => `| ${row.map(pad).join(" | ")} |`;
    const rule = `|${widths.map((w, i) => (numeric[i] ? `${"-".repeat(w + 1)}:` : `:${"-".repeat(w + 1)}`)).join("|")}|`;
    return [line(cols), rule, ...cells.map(line)].join("\n");
  }
}

/** Python's `str()` of a cell pandas holds (None prints as `None`, booleans as `True`/`False`). */
function pyCell(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return String(v);
  return JSON.stringify(v);
}

/** A component used as a tool by an Agent. */
export interface Tool {
  name: string;
  description: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
  invoke(args: Record<string, unknown>, signal?: AbortSignal): Promise<string>;
}

export const isTool = (v: unknown): v is Tool =>
  typeof v === "object" && v !== null && typeof (v as Tool).invoke === "function" && typeof (v as Tool).name === "string";

/** How Langflow turns any value into text for a text field (MessageTextInput, prompt variables). */
export function toText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (value instanceof Message) return value.text;
  if (value instanceof Data) return value.text;
  if (value instanceof DataFrame) return value.toMarkdown();
  if (Array.isArray(value)) return value.map(toText).join("\n");
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** A value as JSON (results, tool outputs). */
export function toJsonValue(value: unknown): unknown {
  if (value instanceof Message || value instanceof Data || value instanceof DataFrame) return value.toJSON();
  if (Array.isArray(value)) return value.map(toJsonValue);
  return value;
}
