import { createInterface, type Interface } from "node:readline/promises";
import { Writable } from "node:stream";
import { CliError, Exit } from "./errors.js";
import type { Io } from "./io.js";
import { shownLine } from "./output.js";

/** Questions to a person at a terminal. An interface so the deploy walk can be driven by a script in unit tests. */
export interface Prompter {
  /** A line of text; Enter alone answers `dflt` (shown in brackets). */
  ask(question: string, dflt?: string): Promise<string>;
  /** A line typed without echo (credentials). */
  secret(question: string): Promise<string>;
  /** One of `choices` (by its text or its 1-based number). */
  choose(question: string, choices: readonly string[], dflt?: string): Promise<string>;
  confirm(question: string, dflt?: boolean): Promise<boolean>;
  close(): void;
}

/**
 * The terminal prompter: one readline interface for the whole session (a second one would lose
 * type-ahead buffered by the first). Prompts go to stderr, so stdout stays clean for `-o json`.
 * Hidden input mutes readline's echo instead of reading raw keys, so editing keys still work.
 *
 * Questions, defaults and choices quote other people's text: a global bundle's parameter names
 * and publish defaults, its nodes' ids, names others chose. Written as they came, an ESC in one
 * set the terminal's title or clipboard (OSC 52) or cleared the screen at the deploy walk of
 * whoever picked that bundle. They are written as one line with their control characters shown
 * as escapes (shownLine), as tables are; what is answered and returned stays the real text.
 */
export function terminalPrompter(io: Io): Prompter {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!muted) io.stderr.write(chunk);
      cb();
    },
  });
  let rl: Interface | undefined;
  let abort = new AbortController();
  /**
   * Created before the first prompt is written: creating it switches the terminal to raw mode,
   * and until then the terminal itself would echo what is typed ahead (a credential, too).
   */
  const open = (): Interface => {
    if (!rl) {
      rl = createInterface({ input: io.stdin, output, terminal: Boolean(io.stdin.isTTY) });
      // Ctrl-C or Ctrl-D at a prompt ends the command cleanly, not with a hanging prompt.
      rl.on("SIGINT", () => abort.abort());
      rl.on("close", () => abort.abort());
    }
    return rl;
  };
  const line = async (prompt: string): Promise<string> => {
    const r = open();
    if (abort.signal.aborted) throw cancelled();
    try {
      return await r.question(prompt, { signal: abort.signal });
    } catch {
      muted = false;
      io.stderr.write("\n");
      abort = new AbortController();
      throw cancelled();
    }
  };
  const ask = async (question: string, dflt?: string) => {
    const answer = (await line(`${shownLine(question)}${dflt !== undefined && dflt !== "" ? ` [${shownLine(dflt)}]` : ""}: `)).trim();
    return answer === "" ? (dflt ?? "") : answer;
  };
  return {
    ask,
    async secret(question) {
      open();
      io.stderr.write(`${shownLine(question)}: `);
      muted = true;
      try {
        return await line("");
      } finally {
        if (muted) io.stderr.write("\n");
        muted = false;
      }
    },
    async choose(question, choices, dflt) {
      for (;;) {
        if (choices.length > 1) choices.forEach((c, i) => io.stderr.write(`  ${i + 1}) ${shownLine(c)}\n`));
        const a = await ask(question, dflt);
        const byNumber = /^\d+$/.test(a) ? choices[Number(a) - 1] : undefined;
        const picked = byNumber ?? choices.find((c) => c === a);
        if (picked !== undefined) return picked;
        io.stderr.write(`  "${shownLine(a)}" is not one of the choices; type its number or its name\n`);
      }
    },
    async confirm(question, dflt = false) {
      for (;;) {
        const a = (await ask(`${question} (${dflt ? "Y/n" : "y/N"})`)).toLowerCase();
        if (a === "") return dflt;
        if (a === "y" || a === "yes") return true;
        if (a === "n" || a === "no") return false;
      }
    },
    close() {
      rl?.close();
    },
  };
}

export const cancelled = (): CliError => new CliError(Exit.unexpected, "cancelled");
