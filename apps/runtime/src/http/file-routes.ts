import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLimited, send, type Router } from "./routing.js";
import type { HostContext } from "./context.js";

/**
 * Langflow 1.13's upload routes, so its clients can hand a flow's Read File (File) a file:
 * - `POST /api/v2/files` (multipart `file`): 201 `{id, name, path, size, provider}`;
 * - `POST /api/v1/files/upload/{flow_id}`: 201 `{flowId, file_path}`.
 * The file goes to the replica's private folder (`<TMPDIR>/flowplane-files`, the one folder the
 * native Read File reads from), 0600 in a 0700 folder. The answer's path is the file's path on
 * the replica, which the caller passes back in a tweak (`{"File-x": {"path": ["<path>"]}}`);
 * Langflow answers a storage key there instead (`<user or flow id>/<name>`). Uploads are per
 * replica: a run served by another replica does not find the file.
 *
 * Bounded: a body over the replica's body limit is 413 (Langflow's detail) without being read
 * further; a name with a path, `..`, NUL, CR/LF or Unicode format characters is 400 with
 * Langflow's detail (its `_validate_file_name`), so `../../etc/passwd` never leaves the folder.
 */

const filesDir = (): string => join(tmpdir(), "flowplane-files");
const MAX_NAME_BYTES = 255;
const DEVICE = /^(?:CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9¹²³]|LPT[0-9¹²³])(?=[ .]|$)/i;
const FLOW_DIR = /^[A-Za-z0-9_-]{1,128}$/;

class UploadError extends Error {
  constructor(readonly status: number, readonly detail: unknown) {
    super(typeof detail === "string" ? detail : "upload refused");
  }
}

const missingFile = () => new UploadError(422, [{ type: "missing", loc: ["body", "file"], msg: "Field required", input: null }]);

/** Langflow's `_validate_file_name`: the bare name, or a 400. */
export function validFileName(name: string): string {
  if (!name || ["..", "/", "\\", "\0", "\n", "\r"].some((c) => name.includes(c)) || /[\p{Cf}\u2028\u2029]/u.test(name)) {
    throw new UploadError(400, "Invalid file name: paths, '..', NUL, CR/LF, and unsafe Unicode formatting are forbidden.");
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new UploadError(400, "File name is too long. Maximum 255 bytes allowed.");
  if (name === "." || name === "..") throw new UploadError(400, "Invalid file name after sanitization");
  if (DEVICE.test(name)) throw new UploadError(400, `Invalid file name. '${name}' is a reserved system name.`);
  return name;
}

/** The body, at most `limit` bytes: more is a 413 with Langflow's detail (refused before reading when announced). */
const readUpload = (req: IncomingMessage, limit: number): Promise<Buffer> =>
  readLimited(req, limit, () => new UploadError(413, `File size is larger than the maximum file size ${Number((limit / 2 ** 20).toFixed(3))}MB.`));

/** The `file` part of a multipart/form-data body: its file name and bytes. */
export function filePart(contentType: string | undefined, body: Buffer): { filename: string; data: Buffer } {
  const m = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw missingFile();
  // Strings, not Buffer.from(...): indexOf reads a string needle without a slice of Node's shared pool.
  const delimiter = `--${boundary}`;
  const closing = `\r\n${delimiter}`;
  let at = body.indexOf(delimiter, 0, "utf8");
  while (at !== -1) {
    const start = at + Buffer.byteLength(delimiter, "utf8");
    if (body.subarray(start, start + 2).toString() === "--") break;
    const headEnd = body.indexOf("\r\n\r\n", start);
    if (headEnd === -1) break;
    const next = body.indexOf(closing, headEnd + 4, "utf8");
    if (next === -1) break;
    const head = body.subarray(start, headEnd).toString("utf8");
    const disposition = /content-disposition:[^\r\n]*/i.exec(head)?.[0] ?? "";
    const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /;\s*filename="([^"]*)"/i.exec(disposition)?.[1];
    if (name === "file" && filename !== undefined) return { filename, data: body.subarray(headEnd + 4, next) };
    at = next + 2;
  }
  throw missingFile();
}

function answerError(res: ServerResponse, err: unknown): void {
  if (err instanceof UploadError) return send(res, err.status, { detail: err.detail });
  const status = (err as { statusCode?: number }).statusCode;
  if (status === 404) return send(res, 404, { detail: "Flow not found" });
  send(res, 500, { detail: "Error accessing storage" });
}

/** Writes the upload into its own folder under the files folder; never outside it, never over another. */
function store(folder: string, name: string, data: Buffer): string {
  const dir = join(filesDir(), folder);
  mkdirSync(filesDir(), { recursive: true, mode: 0o700 });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  writeFileSync(path, data, { mode: 0o600 });
  return path;
}

export function registerFileRoutes(app: Router, ctx: HostContext): void {
  const upload = async (req: { raw: IncomingMessage; headers: IncomingMessage["headers"] }) => {
    const body = await readUpload(req.raw, ctx.config.maxBodyBytes);
    const part = filePart(req.headers["content-type"], body);
    if (!part.filename) throw new UploadError(400, "No file provided");
    return { name: validFileName(part.filename), data: part.data };
  };
  const v2 = async (req: Parameters<typeof upload>[0], res: ServerResponse) => {
    const { name, data } = await upload(req);
    const id = randomUUID();
    const path = store(id, name, data);
    const dot = name.lastIndexOf(".");
    send(res, 201, { id, name: dot > 0 ? name.slice(0, dot) : name, path, size: data.length, provider: null });
  };
  for (const path of ["/api/v2/files", "/api/v2/files/"]) app.add({ method: "POST", path, rawBody: true, onError: (err, _req, res) => answerError(res, err), handler: v2 });
  app.add({
    method: "POST",
    path: "/api/v1/files/upload/:flowId",
    rawBody: true,
    onError: (err, _req, res) => answerError(res, err),
    handler: async (req, res) => {
      const flow = ctx.state.flows.find((f) => f.flow.id === req.params.flowId);
      if (!flow) throw new UploadError(404, "Flow not found");
      const { name, data } = await upload(req);
      // Langflow's name: the upload's time, then its name (a second upload in the same second replaces it, as there).
      const stamp = new Date().toISOString().slice(0, 19).replace("T", "_").replaceAll(":", "-");
      const folder = FLOW_DIR.test(flow.flow.id) ? flow.flow.id : "flow";
      send(res, 201, { flowId: flow.flow.id, file_path: store(folder, `${stamp}_${name}`, data) });
    },
  });
}
