import { readFileSync, readdirSync, realpathSync, statSync, unlinkSync, type Stats } from "node:fs";
import { basename, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { FlowRunError } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { Data, DataFrame, Message } from "../values.js";
import { lfxJsonText } from "./file-json.js";
import { filesDir } from "./save-file.js";

/**
 * Langflow 1.13's Read File (`File`; lfx/components/files_and_knowledge/file.py on
 * lfx/base/data/base_file.py), Local storage, standard parser: the files named by `path` (a
 * tweak's list, else the export's `file_path`) or by a connected `file_path` (Data with a
 * `file_path`, or a Message whose text is one), read as lfx reads them without Docling:
 * - text formats (txt, md, mdx, csv, html, htm, py, sh, sql, js, ts, tsx) as their text, line
 *   ends made `\n`; `.json` re-printed as orjson prints it (file-json.ts);
 * - ASCII, UTF-8 and UTF-8 with a BOM detected as lfx's chardet names them (`ascii`, `utf-8`,
 *   `utf-8-sig`), or the `text_encoding` given (utf-8, ascii, latin-1).
 * Not reproduced, each failing the run with its reason: PDF and Word (pypdf, python-docx), YAML
 * and XML (PyYAML's dict and ElementTree's re-serialisation), another encoding lfx's chardet
 * would guess, archives, Docling's formats and the Advanced Parser, AWS and Google Drive.
 *
 * Where files may be: the replica's private folder (`<TMPDIR>/flowplane-files`, where
 * `/api/v2/files` and `/api/v1/files/upload` put uploads, and where Save to File writes) and
 * nowhere else: a path that leads outside it (`..`, an absolute path elsewhere, a symbolic
 * link) is refused, so a tweak cannot read `/etc/passwd`. A relative path is taken inside it.
 */

/** lfx's TEXT_FILE_TYPES plus DOCLING_ONLY_EXTENSIONS: what the component accepts at all. */
const TEXT_TYPES = ["csv", "json", "pdf", "txt", "md", "mdx", "yaml", "yml", "xml", "html", "htm", "docx", "py", "sh", "sql", "js", "ts", "tsx"];
const DOCLING_ONLY = ["adoc", "asciidoc", "asc", "bmp", "dotx", "dotm", "docm", "jpg", "jpeg", "png", "potx", "ppsx", "pptm", "potm", "ppsm", "pptx", "tiff", "xls", "xlsx", "xhtml", "webp"];
const VALID = new Set([...TEXT_TYPES, ...DOCLING_ONLY]);
/** The formats lfx reads with a parser native does not have. */
const NOT_NATIVE: Record<string, string> = {
  pdf: "PDF files are parsed by pypdf in lfx",
  docx: "Word files are parsed by python-docx in lfx",
  yaml: "YAML files become PyYAML's Python objects in lfx",
  yml: "YAML files become PyYAML's Python objects in lfx",
  xml: "XML files are re-serialised by ElementTree in lfx",
};
const ARCHIVES = ["zip", "tar", "tgz", "bz2", "gz"];
/** lfx's EXTENSION_TO_CONTENT_TYPE, the entries a readable file can have (others: octet-stream). */
const MIME: Record<string, string> = { json: "application/json", txt: "text/plain", csv: "text/csv", html: "text/html" };

interface Source {
  /** The path as given (lfx keeps it as the row's `file_path`). */
  given: string;
  /** Where it is on disk. */
  path: string;
  /** A connected Server File Path marked for deletion after processing. */
  deleteAfter: boolean;
}

interface Row {
  file_path: string;
  text: string;
  encoding: string;
}

const fail = (message: string): never => {
  throw new FlowRunError(message);
};

function storage(ctx: NodeContext): string {
  const v = ctx.value("storage_location");
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === "object" && first !== null && typeof (first as { name?: unknown }).name === "string" ? (first as { name: string }).name : "Local";
}

/** The path inside the replica's folder, or a refusal: never a file elsewhere. */
export function confine(given: string): string {
  const root = filesDir();
  const path = isAbsolute(given) ? resolve(given) : resolve(root, given);
  const inside = (p: string, r: string) => p === r || p.startsWith(r.endsWith(sep) ? r : r + sep);
  let real = path;
  let realRoot = root;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(path);
  } catch {
    // A missing file: judged by its path; the read then says it is not found.
  }
  if (!inside(path, root) || !inside(real, realRoot) || relative(root, path).split(sep).includes("..")) {
    fail(`File path '${given}' is outside this deployment's files folder: the native engine reads only files uploaded to the replica (POST /api/v2/files or /api/v1/files/upload/{flow_id})`);
  }
  return path;
}

/** The `path` field: a tweak's value, else the export's `file_path` (Langflow keeps uploads there). */
function pathList(ctx: NodeContext): string[] {
  let v = ctx.value("path");
  if (v === "" || v === null || v === undefined || (Array.isArray(v) && v.length === 0)) v = ctx.node.template.path?.file_path ?? [];
  const list = typeof v === "string" ? (v === "" ? [] : [v]) : v;
  if (!Array.isArray(list) || !list.every((p): p is string => typeof p === "string")) return fail("FileInput values must be file path strings.");
  return list;
}

/** The connected Server File Path: Data with `file_path`, or a Message whose text is the path. */
function serverPaths(ctx: NodeContext): { given: string | null; item: unknown }[] {
  if (!ctx.connected("file_path")) return [];
  const v = ctx.value("file_path");
  const items = Array.isArray(v) ? v : v === null || v === undefined || v === "" ? [] : [v];
  return items.map((item) => {
    if (item instanceof Message) return { given: item.text, item };
    if (item instanceof Data) return { given: typeof item.data.file_path === "string" && item.data.file_path ? item.data.file_path : null, item };
    return fail(`Expected Data object in file_path but got ${typeof item}.`);
  });
}

function sources(ctx: NodeContext): Source[] {
  const silent = ctx.bool("silent_errors", false);
  const out: Source[] = [];
  const add = (given: string, deleteAfter: boolean) => {
    const path = confine(given);
    let info: Stats | null = null;
    try {
      info = statSync(path);
    } catch {
      info = null;
    }
    if (!info) {
      // lfx: a server file marked for deletion may be gone already (skipped); any other is an error.
      if (deleteAfter) return;
      const msg = `File not found: '${given}' (resolved to: '${path}'). Please upload the file again.`;
      ctx.log(msg);
      if (!silent) fail(msg);
    }
    out.push({ given, path, deleteAfter });
  };
  const fileText = ctx.text("file_path_str");
  if (fileText) {
    const path = confine(fileText);
    try {
      statSync(path);
    } catch {
      const msg = `File or directory not found: ${fileText}`;
      ctx.log(msg);
      if (!silent) fail(msg);
      return [];
    }
    return [{ given: path, path, deleteAfter: false }];
  }
  const server = serverPaths(ctx);
  if (server.length === 0) {
    for (const p of pathList(ctx)) add(p, false);
    return out;
  }
  const deleteAfter = ctx.bool("delete_server_file_after_processing", true);
  for (const { given } of server) {
    if (given) add(given, deleteAfter);
    else if (!ctx.bool("ignore_unspecified_files", false)) {
      const msg = "Data object missing 'file_path' property.";
      ctx.log(msg);
      if (!silent) fail(msg);
    }
  }
  return out;
}

/** Directories walked (regular files only, never a symbolic link), archives refused, then lfx's extension filter. */
function collect(ctx: NodeContext, list: Source[]): Source[] {
  const files: Source[] = [];
  const walk = (s: Source, dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(s, p);
      else if (entry.isFile()) files.push({ ...s, path: p });
    }
  };
  for (const s of list) {
    let info: Stats;
    try {
      info = statSync(s.path);
    } catch {
      continue;
    }
    if (info.isDirectory()) walk(s, s.path);
    else if (ARCHIVES.includes(extname(s.path).slice(1))) fail(`Archives (${basename(s.path)}) are not unpacked by the native engine; use the lfx engine`);
    else files.push(s);
  }
  const kept: Source[] = [];
  const ignored: string[] = [];
  for (const f of files) {
    if (!statSync(f.path).isFile()) {
      ctx.log(`Not a file: ${basename(f.path)}`);
      continue;
    }
    const ext = extname(f.path).slice(1).toLowerCase();
    if (!VALID.has(ext)) {
      if (ctx.bool("ignore_unsupported_extensions", true)) {
        ignored.push(basename(f.path));
        continue;
      }
      const msg = `Unsupported file extension: ${extname(f.path)}`;
      ctx.log(msg);
      if (!ctx.bool("silent_errors", false)) fail(msg);
      continue;
    }
    kept.push(f);
  }
  if (ignored.length > 0) ctx.log(`Ignored files: [${ignored.map((n) => `'${n}'`).join(", ")}]`);
  return kept;
}

const CODEC: Record<string, string> = { "utf-8": "utf-8", utf8: "utf-8", utf_8: "utf-8", ascii: "ascii", "us-ascii": "ascii", "latin-1": "iso8859-1", latin1: "iso8859-1", "iso-8859-1": "iso8859-1", "iso8859-1": "iso8859-1" };

/** Bytes to text as lfx's `_decode_text_bytes_with_encoding` does, for the encodings native knows. */
function decode(bytes: Buffer, name: string, chosen: string): { text: string; encoding: string } {
  if (chosen) {
    const codec = CODEC[chosen.toLowerCase()];
    if (!codec) return fail(`Text encoding '${chosen}' is not supported by the native engine (utf-8, ascii, latin-1); use the lfx engine`);
    if (codec === "iso8859-1") return { text: bytes.toString("latin1"), encoding: codec };
    if (codec === "ascii" && bytes.some((b) => b > 0x7f)) return fail(`Error loading file ${name}: 'ascii' codec can't decode the file`);
    try {
      return { text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes), encoding: codec };
    } catch {
      return fail(`Error loading file ${name}: 'utf-8' codec can't decode the file`);
    }
  }
  // chardet's answers for these: `ascii`, `UTF-8-SIG`, `utf-8` (an empty file too).
  if (bytes.length > 0 && bytes.every((b) => b < 0x80 && b !== 0x1b)) return { text: bytes.toString("latin1"), encoding: "ascii" };
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bom ? bytes.subarray(3) : bytes);
    return { text, encoding: bom ? "utf-8-sig" : "utf-8" };
  } catch {
    return fail(`${name} is neither ASCII nor UTF-8: lfx guesses its encoding with chardet, which the native engine does not reproduce; set Text Encoding (utf-8, ascii or latin-1) or use the lfx engine`);
  }
}

function readRow(ctx: NodeContext, f: Source): Row {
  const ext = extname(f.path).slice(1).toLowerCase();
  if (DOCLING_ONLY.includes(ext)) {
    fail(`File '${basename(f.path)}' has extension '.${ext}' which requires Advanced Parser mode. Please enable 'Advanced Parser' to process this file.`);
  }
  const why = NOT_NATIVE[ext];
  if (why) fail(`${why}, which the native engine does not reproduce (${basename(f.path)}); use the lfx engine`);
  const { text: raw, encoding } = decode(readFileSync(f.path), f.path, ctx.text("text_encoding").trim());
  let text = raw.replace(/\r\n/g, "\n").replace(/\r/g, "\n");
  if (f.path.endsWith(".json")) {
    try {
      text = lfxJsonText(text);
    } catch (err) {
      fail(`Error loading file ${f.path}: ${(err as Error).message}`);
    }
  }
  ctx.log(`Read ${basename(f.path)} with text encoding '${encoding}' (${ctx.text("text_encoding").trim() ? "explicit" : "automatic"}). If text looks incorrect, set Text Encoding to the file's encoding.`);
  return { file_path: f.path, text, encoding };
}

/** lfx's `load_files_core`: the rows of every file, in order; deleted server files after. */
function loadRows(ctx: NodeContext): Row[] {
  const location = storage(ctx);
  if (location !== "Local") fail(`Reading from ${location} is not supported by the native engine; use the lfx engine`);
  if (ctx.bool("advanced_mode", false)) fail("The Advanced Parser (Docling) is not reproduced by the native engine; use the lfx engine");
  const files = collect(ctx, sources(ctx));
  if (files.length === 0) fail("No files to process.");
  ctx.log(`Starting parallel processing of ${files.length} files with concurrency: ${Math.max(1, ctx.number("concurrency_multithreading", 1))}.`);
  const silent = ctx.bool("silent_errors", false);
  const rows: Row[] = [];
  try {
    for (const f of files) {
      try {
        rows.push(readRow(ctx, f));
      } catch (err) {
        ctx.log(`Unexpected error processing ${f.path}: ${(err as Error).message}`);
        if (!silent) throw err;
      }
    }
  } finally {
    for (const f of files) if (f.deleteAfter) unlinkSync(f.path);
  }
  return rows;
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Raw Content (`load_files_message`): the texts joined by `separator`, with lfx's metadata keywords. */
async function loadMessage(ctx: NodeContext): Promise<Message> {
  const rows = loadRows(ctx);
  const first = rows[0];
  // lfx: no rows (every file failed silently) is one empty Data, shown as its dict: `{}`.
  if (!first) return new Message({ text: "{}" });
  const sepText = ctx.text("separator") || "\n\n";
  const name = basename(first.file_path);
  const ext = name.split(".").pop() ?? "";
  const extra: Record<string, unknown> = { file_path: first.file_path, filename: name, file_size: sizeOf(first.file_path), mimetype: MIME[ext.toLowerCase()] ?? "application/octet-stream", encoding: first.encoding };
  if (rows.length > 1) {
    const sourceFiles: { file_path: string; text: string; encoding?: string }[] = [];
    const byPath = new Map<string, { file_path: string; text: string; encoding?: string }>();
    for (const r of rows) {
      const known = byPath.get(r.file_path);
      if (known) known.text = `${known.text}${sepText}${r.text}`;
      else {
        const entry = { file_path: r.file_path, text: r.text, ...(r.encoding ? { encoding: r.encoding } : {}) };
        byPath.set(r.file_path, entry);
        sourceFiles.push(entry);
      }
    }
    extra.source_files = sourceFiles;
  }
  return new Message({ text: rows.map((r) => r.text).join(sepText), extra });
}

/** Files (`load_files`): one row per file, `{file_path, text, encoding}`. */
async function loadFrame(ctx: NodeContext): Promise<DataFrame> {
  return new DataFrame(loadRows(ctx).map((r) => ({ ...r })));
}

/** File Path (`load_files_path`): the paths that exist, one per line. */
async function loadPath(ctx: NodeContext): Promise<Message> {
  const paths = sources(ctx).map((s) => s.path).filter((p) => {
    try {
      statSync(p);
      return true;
    } catch {
      return false;
    }
  });
  return new Message({ text: paths.join("\n") });
}

const file: ComponentDef = {
  methods: { load_files_message: loadMessage, load_files: loadFrame, load_files_path: loadPath },
  check(node) {
    return node.template.advanced_mode?.value === true ? [`${node.displayName} (${node.id}) uses the Advanced Parser (Docling), which the native engine does not reproduce`] : [];
  },
};

export const fileComponents: Record<string, ComponentDef> = { File: file };
