/** The HTTP status of a client-node error, whichever of its shapes it came in. */
export function statusOf(e: unknown): number | undefined {
  const x = e as { code?: number; statusCode?: number; response?: { statusCode?: number } } | null;
  return x?.code ?? x?.statusCode ?? x?.response?.statusCode;
}
