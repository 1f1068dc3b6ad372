#!/usr/bin/env node
import { CliError, Exit, formatDetails } from "./errors.js";
import { createIo } from "./io.js";
import { shownText } from "./output.js";
import { VERSION } from "./version.js";

/**
 * `flowplane`: the environment is read here, once, and passed down in `Io`. Every expected
 * failure is a CliError printed as `error: ...` with its exit code; only a bug prints a stack,
 * and only with FLOWPLANE_DEBUG=1.
 *
 * Start-up is kept short: `--version` loads nothing else, and the command tree (commander, then
 * only the invoked command's module) is imported on demand (program.ts).
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    process.stdout.write(`${VERSION}\n`);
    return Exit.ok;
  }
  const io = createIo({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, { ...process.env }, process.cwd());
  const [{ buildProgram }, { CommanderError }] = await Promise.all([import("./program.js"), import("commander")]);
  const { program, session } = await buildProgram(io, args);
  try {
    await program.parseAsync(process.argv);
    return Exit.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? Exit.ok : Exit.usage; // commander printed the message
    if (e instanceof CliError) {
      // The server's messages quote what callers sent (a flow's name, a path): shown, never acted on.
      io.stderr.write(shownText(`error: ${e.message}\n${e.details.length ? `${formatDetails(e.details)}\n` : ""}`));
      return e.exitCode;
    }
    const err = e as Error;
    io.stderr.write(shownText(`error: unexpected: ${err?.message ?? String(e)}\n`));
    if (io.env.FLOWPLANE_DEBUG) io.stderr.write(`${err?.stack ?? ""}\n`);
    else io.stderr.write("(set FLOWPLANE_DEBUG=1 for details)\n");
    return Exit.unexpected;
  } finally {
    session.close();
  }
}

// process.exit rather than waiting for the event loop: idle keep-alive sockets must not delay the answer.
main().then((code) => process.exit(code), () => process.exit(Exit.unexpected));
