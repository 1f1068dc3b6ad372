import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What `lfx run` answered: its exit code, its JSON answer (`success`, `exception_message`), and the tail of its output. */
export interface LfxRunResult {
  code: number | null;
  success: boolean;
  message: string;
  output: string;
}

/**
 * Runs one flow export in the real lfx, once (`lfx run`: lfx's own loader and executor, with its
 * dependency preflight off, so the component imports themselves are tried), with nothing outside
 * reachable: a dummy key, and a model server on a port nothing listens on. The tests use it to
 * check that a flow the compatibility report refuses is one lfx itself cannot run, since the
 * engine refuses such flows before lfx is started.
 */
export function lfxRunOnce(bin: string, raw: unknown, timeoutMs = 240_000): Promise<LfxRunResult> {
  const dir = mkdtempSync(join(tmpdir(), "fp-lfx-run-"));
  const file = join(dir, "flow.json");
  writeFileSync(file, JSON.stringify(raw));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, LANGFLOW_CONFIG_DIR: dir, DO_NOT_TRACK: "true",
    OPENAI_API_KEY: "sk-lfx-run-once", OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
  };
  return new Promise((resolve) => {
    execFile(bin, ["run", "--no-check-variables", "--no-check-dependencies", "--format", "json", file, "hello"], { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      const line = stdout.split("\n").reverse().find((l) => l.trimStart().startsWith("{")) ?? "{}";
      let answer: { success?: unknown; exception_message?: unknown } = {};
      try {
        answer = JSON.parse(line) as typeof answer;
      } catch {
        // Not JSON: `output` shows what lfx printed.
      }
      resolve({
        code,
        success: code === 0 && answer.success !== false,
        message: typeof answer.exception_message === "string" ? answer.exception_message : "",
        output: `${stdout}\n${stderr}`.slice(-2000),
      });
    });
  });
}
