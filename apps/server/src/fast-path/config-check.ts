/**
 * What a native front's failed config check (`haproxy -c`, `nginx -t`) said, for the error that
 * stops the start: its error lines (`isError`), else its last words, else how it ended (a check
 * killed by a signal says nothing). At most 2,000 characters.
 */
export function checkRefusal(check: { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }, isError: (line: string) => boolean): string {
  const out = `${check.stderr ?? ""}\n${check.stdout ?? ""}`;
  const errors = out.split("\n").filter(isError);
  const said = errors.length > 0 ? errors : out.split("\n").filter((l) => l.trim() !== "").slice(-3);
  return (said.join(" ") || `no message (exit code ${check.status}, signal ${check.signal})`).slice(0, 2000);
}
