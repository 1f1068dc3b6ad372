import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { FlowRunError } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { Data, DataFrame, Message, toText } from "../values.js";

/**
 * Langflow 1.13's Save to File (lfx/components/files_and_knowledge/save_file.py), Local storage:
 * the input (Message, Data or DataFrame) written under `file_name` plus the format's extension,
 * in the replica's private folder (`<TMPDIR>/flowplane-files`: under the local driver's sandbox the
 * replica's own bounded tmpfs, on Kubernetes the pod's), replaced or, with `append_mode`,
 * appended to as lfx does. The answer is lfx's confirmation with the file's path. AWS and Google
 * Drive are not native (the run fails naming them); nor are Excel and Markdown tables.
 */

const MESSAGE_FORMATS = ["txt", "json", "markdown", "html"];
const DATA_FORMATS = ["csv", "json"];

/** The replica's folder for saved files. */
export const filesDir = (): string => join(tmpdir(), "flowplane-files");

/** lfx's `_get_safe_local_file_name`: a bare file name, never a path. */
function safeName(raw: string): string {
  const name = raw.trim();
  if (!name) throw new FlowRunError("File name must be provided.");
  if (name.includes("\0") || name.includes("/") || name.includes("\\") || name === "." || name === ".." || /^[A-Za-z]:/.test(name) || basename(name) !== name) {
    throw new FlowRunError("Local file name must be a file name only, without paths or parent directory references.");
  }
  return name;
}

function storage(ctx: NodeContext): string {
  const v = ctx.value("storage_location");
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === "object" && first !== null && typeof (first as { name?: unknown }).name === "string" ? (first as { name: string }).name : "";
}

const csvCell = (v: unknown): string => {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : typeof v === "boolean" ? (v ? "True" : "False") : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

/** pandas' `to_csv(index=False)`: a header line, then one line per row, minimal quoting. */
function csv(rows: Record<string, unknown>[], header: boolean): string {
  const cols = new DataFrame(rows).columns;
  const lines = rows.map((r) => cols.map((c) => csvCell(r[c])).join(","));
  return `${[...(header ? [cols.join(",")] : []), ...lines].join("\n")}\n`;
}

/** What is in a JSON file already, as a list (lfx's append: a single object becomes a list of one). */
function existingList(path: string): unknown[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8").trim() || "[]");
    return Array.isArray(parsed) ? parsed : typeof parsed === "object" && parsed !== null ? [parsed] : [];
  } catch {
    return [];
  }
}

async function save(ctx: NodeContext): Promise<Message> {
  const fileName = ctx.text("file_name");
  if (!fileName) throw new FlowRunError("File name must be provided.");
  const location = storage(ctx);
  if (!location) throw new FlowRunError("Storage location must be selected.");
  if (location !== "Local") throw new FlowRunError(`Saving to ${location} is not supported by the native engine; use the lfx engine`);
  let input = ctx.value("input");
  if (typeof input === "string") {
    const raw: string = input;
    // As lfx: a tool call's string is a table when it parses as objects, else a message.
    try {
      const parsed: unknown = JSON.parse(raw);
      input = Array.isArray(parsed) && typeof parsed[0] === "object" && parsed[0] !== null ? new DataFrame(parsed as Record<string, unknown>[]) : typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? new DataFrame([parsed as Record<string, unknown>]) : new Message({ text: raw });
    } catch {
      input = new Message({ text: raw });
    }
  }
  const kind = input instanceof DataFrame ? "DataFrame" : input instanceof Message ? "Message" : input instanceof Data ? "Data" : null;
  if (!kind) throw new FlowRunError(`Unsupported input type: ${typeof input}`);
  const format = ctx.text("local_format") || (kind === "DataFrame" ? "csv" : "json");
  const allowed = kind === "Message" ? MESSAGE_FORMATS : DATA_FORMATS;
  if (!allowed.includes(format)) throw new FlowRunError(`Invalid file format '${format}' for ${kind} in the native engine. Allowed: ${allowed.join(", ")}`);
  const name = safeName(fileName);
  const dir = filesDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name.toLowerCase().endsWith(`.${format}`) ? name : `${name}.${format}`);
  const append = ctx.bool("append_mode", false) && existsSync(path);
  const write = (text: string) => writeFileSync(path, text, { encoding: "utf8", mode: 0o600 });
  const old = () => readFileSync(path, "utf8");
  if (input instanceof Message) {
    const content = toText(input);
    if (format === "txt" || format === "html") write(append ? `${old()}\n${content}` : content);
    else if (format === "json") write(JSON.stringify(append ? [...existingList(path), { message: content }] : { message: content }, null, 2));
    else write(append ? `${old()}\n\n**Message:**\n\n${content}` : `**Message:**\n\n${content}`);
  } else {
    const rows = input instanceof DataFrame ? input.rows : [(input as Data).data];
    if (format === "csv") write(append ? old() + csv(rows, false) : csv(rows, true));
    else {
      const value = input instanceof DataFrame ? rows : (input as Data).data;
      write(JSON.stringify(append ? [...existingList(path), ...(Array.isArray(value) ? value : [value])] : value, null, 2));
    }
  }
  return new Message({ text: `${kind} ${append ? "appended to" : "saved successfully as"} '${path}' at ${path}` });
}

const saveToFile: ComponentDef = { methods: { save_to_file: save } };

export const saveFileComponents: Record<string, ComponentDef> = { SaveToFile: saveToFile };
