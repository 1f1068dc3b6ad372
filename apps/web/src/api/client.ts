import type { FieldError } from "./types";

/** An answer in the API's error shape `{"error": {code, message, details}}`, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldError[] = [],
  ) {
    super(message);
  }
}

/** `onHeaders` sees the answer's headers (the event list's X-Next-Cursor). */
export type Fetch = (method: string, path: string, body?: unknown, onHeaders?: (h: Headers) => void) => Promise<unknown>;

/**
 * A client for `/api/v1` that sends the access key as `x-access-key`. `onUnauthenticated` runs
 * on a 401 so the app can return to the sign-in page (a revoked or expired key).
 */
export function createClient(key: string, onUnauthenticated: () => void): Fetch {
  return async (method, path, body, onHeaders) => {
    let res: Response;
    try {
      res = await fetch(`/api/v1${path}`, {
        method,
        headers: { "x-access-key": key, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch {
      throw new ApiError(0, "network", "The control plane cannot be reached. Check that flowplane is running.");
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) {
      onHeaders?.(res.headers);
      return json;
    }
    const err = (json as { error?: { code?: string; message?: string; details?: FieldError[] } } | undefined)?.error;
    if (res.status === 401) onUnauthenticated();
    throw new ApiError(res.status, err?.code ?? "http_error", err?.message ?? `${res.status} ${res.statusText}`, Array.isArray(err?.details) ? err.details : []);
  };
}

/** Every page of a cursor-paginated list (the UI's lists are small: projects, bundles, deployments). */
export async function listAll<T>(api: Fetch, path: string, maxPages = 20): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null | undefined;
  for (let i = 0; i < maxPages; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const page = (await api("GET", `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)) as { items: T[]; nextCursor?: string | null };
    out.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return out;
}

/** A field's server message: exact field first, then the first message under it (`resources.cpu` → `resources.cpu.request`). */
export function messageFor(errors: FieldError[], field: string): string | undefined {
  return errors.find((e) => e.field === field)?.message;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const details = e.details.filter((d) => d.message && !e.message.includes(d.message)).map((d) => (d.field ? `${d.field}: ${d.message}` : d.message));
    return [e.message, ...details].join(" · ");
  }
  return e instanceof Error ? e.message : String(e);
}
