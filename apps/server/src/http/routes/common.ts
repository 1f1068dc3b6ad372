import { DEFAULT_PAGE_SIZE, type PageRequest } from "@flowplane/core";
import { pageQuerySchema } from "@flowplane/core/api";
import { parse } from "../../services/identity.js";

export function pageOf(query: Record<string, string | undefined>): PageRequest {
  const q = parse(pageQuerySchema, { limit: query.limit, cursor: query.cursor });
  return { limit: q.limit ?? DEFAULT_PAGE_SIZE, cursor: q.cursor };
}

export const param = (params: Record<string, string>, name: string): string => params[name] ?? "";
