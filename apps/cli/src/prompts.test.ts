import assert from "node:assert/strict";
import { PassThrough, Writable } from "node:stream";
import { describe, it } from "node:test";
import { createIo } from "./io.js";
import { terminalPrompter } from "./prompts.js";

/** A prompter on fake streams: `typed` is what the person types, the prompts land in `written()`. */
function prompter(typed: string) {
  const stdin = new PassThrough();
  let err = "";
  const stderr = new Writable({
    write(chunk: Buffer, _enc, cb) {
      err += chunk.toString();
      cb();
    },
  });
  const io = createIo({ stdin, stdout: new PassThrough(), stderr }, {}, "/");
  const p = terminalPrompter(io);
  // Typed once the question is asked, as a person would.
  setImmediate(() => stdin.write(typed));
  return { p, written: () => err };
}

// A global bundle's parameter name and publish default, as the server returns them: its
// publisher's text, with OSC 0 (title), OSC 52 (clipboard) and CSI 2J (clear screen).
const NAME = "PLAIN\u001b]0;pwned\u0007\u001b]52;c;ZWNobyBwd25lZA\u0007";
const DEFAULT = "gpt\u001b[2J\u009b31m";

describe("the terminal prompter", () => {
  it("writes a question and its default with their control characters as escapes", async () => {
    const { p, written } = prompter("\n");
    assert.equal(await p.ask(`Parameter ${NAME}`, DEFAULT), DEFAULT, "Enter answers the real default");
    p.close();
    assert.doesNotMatch(written(), /[\u001b\u0007\u009b]/);
    assert.match(written(), /Parameter PLAIN\\u\{1b\}\]0;pwned\\u\{7\}.* \[gpt\\u\{1b\}\[2J\\u\{9b\}31m\]: /);
  });

  it("writes a hidden question the same way", async () => {
    const { p, written } = prompter("sk-typed\n");
    assert.equal(await p.secret(`Credential ${NAME} (required, hidden)`), "sk-typed");
    p.close();
    assert.doesNotMatch(written(), /[\u001b\u0007]/);
    assert.match(written(), /Credential PLAIN\\u\{1b\}/);
  });

  it("lists choices as escapes and still returns the chosen one as it is", async () => {
    const { p, written } = prompter("1\n");
    assert.equal(await p.choose("Bundle", [NAME, "support-bot"]), NAME);
    p.close();
    assert.doesNotMatch(written(), /[\u001b\u0007]/);
    assert.match(written(), / {2}1\) PLAIN\\u\{1b\}\]0;pwned/);
  });
});
