/**
 * The access key from `x-access-key`, Langflow's own `x-api-key` (so Langflow clients work
 * unchanged, DESIGN 11) or `Authorization: Bearer`, first found in that order. Its own module
 * (no Fastify), so the gateway's data-plane workers read keys as the API does without loading it.
 */
export function accessKeyOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  for (const name of ["x-access-key", "x-api-key"]) {
    const direct = headers[name];
    if (typeof direct === "string" && direct.length > 0) return direct;
  }
  const auth = headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}
