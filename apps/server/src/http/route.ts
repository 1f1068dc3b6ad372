import type { FastifyReply } from "fastify";
import type { Principal } from "@flowplane/core";
import type { HandlerAnswer, Operation } from "@flowplane/core/api";

export interface HandlerContext {
  principal: Principal;
  /** The caller again, from the request's key as the store has it now (a long answer, a follow, re-checks access with it). */
  reauthenticate: () => Promise<Principal>;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: unknown;
  reply: FastifyReply;
}

/**
 * One API operation: its contract (`@flowplane/core/api`'s operation table: request and
 * answer schemas) and the handler that serves it. The handler's return type is the answer
 * schema's type, so a handler that answers something else does not compile; the test mode
 * (`checkAnswers`) also checks every answer at run time.
 */
export interface RouteDef {
  op: Operation;
  handler: (ctx: HandlerContext) => Promise<unknown>;
}

export const route = <O extends Operation>(op: O, handler: (ctx: HandlerContext) => Promise<HandlerAnswer<O>>): RouteDef => ({ op, handler });

/** The Fastify form of a contract path: `/projects/{projectId}` → `/projects/:projectId`. */
export const fastifyPath = (path: string): string => path.replace(/\{(\w+)\}/g, ":$1");
