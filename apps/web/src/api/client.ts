import {
  ContractError,
  prepareCall,
  typedAnswer,
  type Answer,
  type CallArgs,
  type FieldError,
  type OperationId,
  type Operations,
} from "@flowplane/core/api";

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
type Transport = (method: string, path: string, body: unknown, onHeaders?: (h: Headers, status: number) => void) => Promise<unknown>;

/**
 * One operation of the API contract (`@flowplane/core/api`), typed by its schemas: the path
 * filled from `params`, the answer typed as the contract says.
 */
export type Api = <K extends OperationId>(id: K, args: CallArgs<Operations[K]>, onHeaders?: (h: Headers) => void) => Promise<Answer<Operations[K]>>;

/**
 * A client for `/api/v1` that sends the access key as `x-access-key`. `onUnauthenticated` runs
 * on a 401 so the app can return to the sign-in page (a revoked or expired key).
 *
 * Every answer is parsed with the contract's schema. A mismatch goes to `onContractProblem`
 * (the console, where the browser tests look for it and fail) and the answer is used as it
 * came: a newer server's extra field must not break the page.
 */
export function createClient(key: string, onUnauthenticated: () => void, onContractProblem: (problem: string) => void = reportProblem): Api {
  const send = transport(key, onUnauthenticated);
  return async (id, args, onHeaders) => {
    const call = prepareCall(id, args);
    const qs = new URLSearchParams(call.query).toString();
    let status = 0;
    const body = await send(call.method, `${call.path}${qs ? `?${qs}` : ""}`, call.body, (h, s) => {
      status = s;
      onHeaders?.(h);
    });
    try {
      return typedAnswer(call, status, body, true);
    } catch (e) {
      if (!(e instanceof ContractError)) throw e;
      onContractProblem(e.message);
      return body as Answer<Operations[typeof id]>;
    }
  };
}

function reportProblem(problem: string): void {
  console.error(`flowplane: ${problem}`);
}

function transport(key: string, onUnauthenticated: () => void): Transport {
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
      onHeaders?.(res.headers, res.status);
      return json;
    }
    const err = (json as { error?: { code?: string; message?: string; details?: FieldError[] } } | undefined)?.error;
    if (res.status === 401) onUnauthenticated();
    throw new ApiError(res.status, err?.code ?? "http_error", err?.message ?? `${res.status} ${res.statusText}`, Array.isArray(err?.details) ? err.details : []);
  };
}

/** The operations that answer a page (`{items, nextCursor}`), and the item each holds. */
type ListOperation = "listProjects" | "listBundles" | "listDeployments" | "listUsers";
type ItemOf<K extends ListOperation> = Answer<Operations[K]> extends { items: (infer I)[] } ? I : never;

/** Every page of a cursor-paginated list (the UI's lists are small: projects, bundles, deployments). */
export async function listAll<K extends ListOperation>(api: Api, id: K, args: Omit<CallArgs<Operations[K]>, "query">, maxPages = 20): Promise<ItemOf<K>[]> {
  const out: ItemOf<K>[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const page = (await api(id, { ...args, query: { limit: 200, cursor } } as CallArgs<Operations[K]>)) as unknown as { items: ItemOf<K>[]; nextCursor: string | null };
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
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
