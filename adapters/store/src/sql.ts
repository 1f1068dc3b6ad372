/**
 * The one thing the store needs from a PostgreSQL connection. Two siblings implement it:
 * `pglite.ts` (embedded, one machine) and `postgres.ts` (a real server through `pg`).
 * Both speak the same SQL; rows come back with jsonb parsed and timestamps as Date.
 */
export interface SqlClient {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /** Runs a script of several statements, without parameters (migrations). */
  exec(text: string): Promise<void>;
  /** Runs `fn` in one transaction on one connection; rolls back if it throws. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** "pglite" or "postgres", for messages and benchmarks. */
  readonly kind: "pglite" | "postgres";
}
