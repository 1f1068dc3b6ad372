import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { ContractError, addressHeld, adminKeyNonce, adminKeyProofMatches, adminKeyProofSchema, operations, prepareCall, typedAnswer, type Answer, type CallArgs, type OperationId, type Operations } from "@flowplane/core/api";
import { CliError, Exit, exitForStatus, type FieldMessage } from "./errors.js";
import { isLocalServer, type Target } from "./target.js";

const API = "/api/v1";

/** The operations that answer a page (`{items, nextCursor}`), and the item each holds. */
type ListOperation = "listProjects" | "listBundles" | "listUsers" | "listDeployments" | "listDeploymentRevisions";
type ItemOf<K extends ListOperation> = Answer<Operations[K]> extends { items: (infer I)[] } ? I : never;
const REQUEST_TIMEOUT_MS = 120_000;

export interface ApiAnswer<T> {
  status: number;
  headers: Headers;
  data: T;
}

/**
 * The control-plane API over HTTP (global fetch), and nothing else: every command goes through
 * here, so error answers become CliErrors with the server's own message and field details in
 * one place, and an unreachable server is always exit code 8.
 */
export class ApiClient {
  /**
   * `checkAnswers` (FLOWPLANE_CHECK_ANSWERS=1; the CLI's tests set it): every answer of `call`
   * is parsed with the API contract's schema, and a mismatch is an error instead of a value the
   * CLI would misread.
   */
  constructor(readonly target: Pick<Target, "server" | "key" | "keySource" | "localAdmin">, readonly checkAnswers = false) {}

  /**
   * The local server's proofs that it holds the admin key found on disk being asked, by origin
   * (`proveFor`): requests made while one is asked wait for it; the next request asks again.
   */
  private proving = new Map<string, Promise<void>>();

  /** One operation of the API contract (`@flowplane/core/api`), typed by its schemas. */
  async call<K extends OperationId>(id: K, args: CallArgs<Operations[K]>): Promise<{ status: number; headers: Headers; data: Answer<Operations[K]> }> {
    const c = prepareCall(id, args);
    const res = await this.request<unknown>(c.method, c.path, { body: c.body, query: c.query });
    try {
      return { status: res.status, headers: res.headers, data: typedAnswer<K>(c, res.status, res.data, this.checkAnswers) };
    } catch (e) {
      if (e instanceof ContractError) throw new CliError(Exit.unexpected, e.message);
      throw e;
    }
  }

  /** The answer of one operation (see `call`). */
  async do<K extends OperationId>(id: K, args: CallArgs<Operations[K]>): Promise<Answer<Operations[K]>> {
    return (await this.call(id, args)).data;
  }

  /** Every item of a paginated list operation, following the cursor. */
  async all<K extends ListOperation>(id: K, args: Omit<CallArgs<Operations[K]>, "query">): Promise<ItemOf<K>[]> {
    const items: ItemOf<K>[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = (await this.do(id, { ...args, query: { limit: 200, cursor } } as CallArgs<Operations[K]>)) as unknown as { items: ItemOf<K>[]; nextCursor: string | null };
      items.push(...page.items);
      cursor = this.onwards(seen, page.nextCursor ?? undefined, id);
    } while (cursor);
    return items;
  }

  /**
   * The next page's cursor, once: a cursor only moves forward, and one handed out again (a
   * broken or hostile server) would have the walk ask and hold pages for ever.
   */
  onwards(seen: Set<string>, cursor: string | undefined, what: string): string | undefined {
    if (cursor === undefined) return undefined;
    if (seen.has(cursor)) throw new CliError(Exit.unexpected, `the server at ${this.server} handed out the same page cursor twice for ${what}: the list never ends, so it was stopped`);
    seen.add(cursor);
    return cursor;
  }

  get server(): string {
    return this.target.server;
  }

  async request<T>(method: string, path: string, opts: { body?: unknown; query?: Record<string, string | undefined> } = {}): Promise<ApiAnswer<T>> {
    const url = new URL(`${this.server}${API}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const res = await this.fetch(url.toString(), {
      method,
      headers: opts.body !== undefined ? { "content-type": "application/json" } : {},
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw this.errorOf(res.status, text);
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        throw new CliError(Exit.unexpected, `the server at ${this.server} answered ${method} ${path} with something that is not JSON; is it a flowplane server?`);
      }
    }
    return { status: res.status, headers: res.headers, data: data as T };
  }

  /**
   * A request to an absolute URL the API handed out (a gateway endpoint), with the same key.
   * Network failures become exit code 8; the caller reads the answer. A redirect is never
   * followed (below): a gateway endpoint answers what a replica, a team's code, says, and the
   * key has the caller's rights in every project.
   */
  async fetch(url: string, init: RequestInit = {}, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.target.key && this.target.localAdmin) await this.proveFor(url);
    if (this.target.key) headers.set("x-access-key", this.target.key);
    let res: Response;
    try {
      // Never followed: fetch drops only Authorization and cookies on a redirect to another
      // origin, so the x-access-key (and a 307/308's body, credentials included) went along.
      res = await fetch(url, { ...init, headers, redirect: "manual", signal: init.signal ?? AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw unreachable(url, e);
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      const to = res.headers.get("location");
      throw new CliError(Exit.unexpected, `${new URL(url).origin} answered with a redirect (HTTP ${res.status}${to ? ` to ${to}` : ""}), which the CLI does not follow: the access key would go along. If the server moved, use its new URL (flowplane login --server URL)`);
    }
    return res;
  }

  /**
   * Before each request that carries the admin key found on disk, a proof from the origin it goes
   * to: the server called, or another origin a URL the API handed out names (a gateway endpoint:
   * FLOWPLANE_EXTERNAL_URL or FLOWPLANE_PRIVATE_URL, another port or host name, in another process
   * with split roles); a proof for the server called says nothing of what listens there. And
   * asked again at each request, not once per client: a server that stops while `deploy --wait`,
   * `top -w` or `login` goes on frees its port to whatever takes it next, and the next request
   * opens a new connection to that.
   */
  private async proveFor(url: string): Promise<void> {
    const origin = new URL(url).origin;
    // The server called keeps its path (one behind a path prefix answers there); another origin is asked at its root.
    const server = origin === new URL(this.server).origin ? this.server : origin;
    let p = this.proving.get(origin);
    if (!p) {
      p = this.proveLocalServer(server).finally(() => this.proving.delete(origin));
      this.proving.set(origin, p);
    }
    await p;
  }

  /**
   * Before the admin key found on disk goes to a local server: a challenge the server answers
   * with a proof made with that key, naming the port it serves on and the addresses it holds it
   * at. The key is sent only when the proof is right, for the port called, and every address the
   * server's host name resolves to is one of those: anything else listening there (another
   * account's process while flowplane is down, one relaying to the real server on another port,
   * or one holding the same port on the other loopback family) gets nothing.
   */
  private async proveLocalServer(server: string): Promise<void> {
    const refuse = (why: string) => new CliError(Exit.auth,
      `the admin key in ${this.target.keySource} was not sent: the server at ${server} did not prove that it holds it (${why}). ` +
      `Another program may be listening there; if this is the flowplane server you mean, give a key explicitly (FLOWPLANE_ACCESS_KEY, or \`flowplane login --server ${this.server}\`)`);
    if (!isLocalServer(server)) throw refuse("it is not on this machine: the admin key found on disk goes only to a local server");
    const nonce = adminKeyNonce();
    const url = `${server}${API}${operations.proveAdminKey.path}`;
    const u = new URL(server);
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ nonce }), redirect: "manual", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      throw unreachable(url, e);
    }
    const text = await res.text().catch(() => "");
    let answer: { port: number; addresses: string[]; proof: string } | undefined;
    try {
      answer = res.status === 200 ? adminKeyProofSchema.parse(JSON.parse(text)) : undefined;
    } catch {
      answer = undefined;
    }
    if (!answer) throw refuse(`it answered HTTP ${res.status}${res.status === 200 ? " without a proof" : ""}`);
    if (answer.port !== port) throw refuse(`its proof is for port ${answer.port}, not ${port}: something on port ${port} relays to it`);
    if (!(await adminKeyProofMatches(this.target.key!, answer, nonce, answer.proof))) throw refuse("its proof does not match that key");
    const host = u.hostname.replace(/^\[|\]$/g, "");
    const resolved = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
    const elsewhere = resolved.filter((a) => !addressHeld(a, answer.addresses));
    if (resolved.length === 0 || elsewhere.length > 0) {
      throw refuse(`${host} names ${elsewhere.join(", ") || "no address"}, where it does not listen on port ${port} (it holds ${answer.addresses.join(", ")}); call it at one of those`);
    }
  }

  /** The CliError for an error answer: the server's message, its field details, a hint for 401. */
  errorOf(status: number, text: string): CliError {
    let message = `the server answered HTTP ${status}`;
    let details: FieldMessage[] = [];
    try {
      const body = JSON.parse(text) as { error?: { message?: unknown; details?: unknown } };
      if (typeof body.error?.message === "string") message = body.error.message;
      if (Array.isArray(body.error?.details)) {
        details = body.error.details.filter((d): d is FieldMessage => typeof d === "object" && d !== null && typeof (d as FieldMessage).message === "string")
          .map((d) => ({ field: typeof d.field === "string" ? d.field : "", message: d.message }));
      }
    } catch {
      if (text.trim()) message = `${message}: ${text.trim().slice(0, 200)}`;
    }
    // The server's default message repeats the details; they are printed one per line below it.
    if (details.length && message === details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)).join("; ")) {
      message = "the server refused the request:";
    }
    if (status === 401) {
      message = this.target.key
        ? `${message} (key from ${this.target.keySource}); log in again with \`flowplane login --server ${this.server}\``
        : `no access key for ${this.server}: run \`flowplane login --server ${this.server}\` or set FLOWPLANE_ACCESS_KEY`;
    }
    return new CliError(exitForStatus(status), message, details);
  }
}

function unreachable(url: string, e: unknown): CliError {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const origin = (() => {
    try {
      return new URL(url).origin;
    } catch {
      return url;
    }
  })();
  if (err.name === "TimeoutError") return new CliError(Exit.unreachable, `no answer from ${origin} in time`);
  const why = err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
  return new CliError(Exit.unreachable, `cannot reach the flowplane server at ${origin} (${why})`);
}
