import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "@flowplane/testkit";

/** The installed command itself (the executable bin npm links), run as a user runs it. */
export const CLI_BIN = join(repoRoot, "apps", "cli", "bin", "flowplane.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A clean environment for the CLI: only PATH, the contract check and what the test gives, so a developer's own
 * FLOWPLANE_* variables or ~/.config never leak into a test.
 */
export function cliEnv(env: Record<string, string | undefined>): Record<string, string> {
  // Every answer the CLI reads is parsed with the API contract's schema: a CLI and a server
  // that disagree fail here, not in front of a user.
  const out: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", FLOWPLANE_CHECK_ANSWERS: "1" };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** Runs `flowplane args...` with stdin from `input` (empty, not a terminal, when absent). */
export function runCli(args: string[], opts: { env: Record<string, string | undefined>; input?: string; cwd?: string; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI_BIN, args, { env: cliEnv(opts.env), cwd: opts.cwd ?? repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface PtySession {
  /** Waits until the output after the previous match matches, then returns that part. */
  expect(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Types a line, as a person would (Enter included). */
  line(text: string): void;
  output(): string;
  exited: Promise<number>;
  kill(): void;
}

/**
 * Runs the CLI inside a pseudo-terminal (`script` from util-linux), so it sees a terminal on
 * stdin and stderr as it does for a person, and the test types answers when prompts appear.
 */
export function runCliInPty(args: string[], opts: { env: Record<string, string | undefined> }): PtySession {
  const command = [CLI_BIN, ...args].map(quote).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], { env: cliEnv({ TERM: "dumb", ...opts.env }), stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  let seen = 0;
  child.stdout.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr.on("data", (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
  return {
    async expect(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rest = output.slice(seen);
        const m = pattern.exec(rest);
        if (m) {
          seen += m.index + m[0].length;
          return rest.slice(0, m.index + m[0].length);
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output since the last match:\n${rest}`);
        if (child.exitCode !== null) throw new Error(`the CLI exited (${child.exitCode}) before ${pattern}; output since the last match:\n${rest}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    line(text) {
      child.stdin.write(`${text}\r`);
    },
    output: () => output,
    exited,
    kill: () => child.kill("SIGKILL"),
  };
}
