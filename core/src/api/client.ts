import type { z } from "zod";
import { contractProblem } from "./check.js";
import type { DeployRequest } from "./deployments.js";
import { fillPath, operations, type Answer, type Method, type Operation, type OperationId, type Operations } from "./operations.js";

/**
 * What a client sends while a person is still typing: every field optional, and a scalar may
 * still be the text they typed (the server's validation names the bad value, as the Deploy
 * dialog and the CLI want). Key names stay the contract's: a misspelt field does not compile.
 */
export type Loose<T> = T extends string | number | boolean ? T | string
  : T extends readonly (infer E)[] ? Loose<E>[]
    : T extends object ? { [K in keyof T]?: Loose<T[K]> }
      : T;

/** The path parameters named in an operation's path. */
type ParamsOf<P extends string> = P extends `${string}{${infer K}}${infer Rest}` ? { [k in K]: string } & ParamsOf<Rest> : unknown;

/** The arguments of one call: path parameters, query and body as that operation takes them. */
export type CallArgs<O extends Operation> =
  & (O["path"] extends `${string}{${string}` ? { params: ParamsOf<O["path"]> } : { params?: undefined })
  & (O["query"] extends z.ZodObject ? { query?: { [K in keyof z.input<O["query"]>]?: string | number | undefined } } : { query?: undefined })
  & (O["body"] extends z.ZodType ? { body: Loose<z.input<O["body"]>> } : { body?: undefined });

/** One call as a transport sends it: relative to /api/v1, the query as strings. */
export interface PreparedCall {
  op: Operation;
  method: Method;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

export function prepareCall<K extends OperationId>(id: K, args: CallArgs<Operations[K]>): PreparedCall {
  const op: Operation = operations[id];
  const a = args as { params?: Record<string, string>; query?: Record<string, string | number | undefined>; body?: unknown };
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.query ?? {})) if (v !== undefined) query[k] = String(v);
  return { op, method: op.method, path: fillPath(op.path, a.params ?? {}), query, body: a.body };
}

/**
 * The answer as the contract types it. With `check`, the answer is first parsed with the
 * contract's schema and a mismatch throws (the clients' tests run this way, so a client and a
 * server that disagree fail there); without, it is trusted as the server's.
 */
export function typedAnswer<K extends OperationId>(call: PreparedCall, status: number, body: unknown, check: boolean): Answer<Operations[K]> {
  if (check) {
    const problem = contractProblem(call.op, status, body);
    if (problem) throw new ContractError(problem);
  }
  return body as Answer<Operations[K]>;
}

/** An answer that does not match the API contract (only raised when checking). */
export class ContractError extends Error {
  constructor(readonly problem: string) {
    super(`the server's answer does not match the API contract: ${problem}`);
    this.name = "ContractError";
  }
}

/** A deploy request as a client builds it (the Deploy dialog, the CLI's flags): credentials always present. */
export type DeployDraft = Loose<DeployRequest> & { credentials: Record<string, string> };
