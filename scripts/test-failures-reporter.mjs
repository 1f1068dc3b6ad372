// A second reporter for node's test runner (scripts/test.mjs), beside TAP: it prints nothing
// while the tests run, then, at the very end, every failed test again with its file, line and
// error. CI keeps only the tail of a long log; a failure in the middle of 1,500 tests was
// otherwise out of sight, and a flaky one could not be named.

/** The message of a failure: the assertion's own error (the runner wraps it in `cause`), a few lines of it. */
function describe(error) {
  const inner = error?.cause ?? error;
  const text = inner instanceof Error ? `${inner.name}: ${inner.message}` : String(inner);
  const stack = inner instanceof Error && typeof inner.stack === "string"
    ? inner.stack.split("\n").filter((l) => /^\s+at /.test(l)).slice(0, 3)
    : [];
  const lines = text.split("\n");
  return [...lines.slice(0, 12), ...(lines.length > 12 ? [`... (${lines.length - 12} more lines)`] : []), ...stack];
}

export default async function* failures(source) {
  const failed = [];
  for await (const event of source) {
    if (event.type !== "test:fail") continue;
    const d = event.data;
    // A suite fails when a test inside it does; the test is what names the cause.
    if (d.details?.type === "suite" && d.details?.error?.failureType === "subtestsFailed") continue;
    failed.push(d);
  }
  if (failed.length === 0) return;
  yield `\n# ${failed.length} failed:\n`;
  for (const d of failed) {
    const where = d.file ? `${d.file}${d.line ? `:${d.line}` : ""}` : "(no file)";
    yield `# - ${d.name}\n#   at ${where}\n`;
    for (const line of describe(d.details?.error)) yield `#     ${line}\n`;
  }
}
