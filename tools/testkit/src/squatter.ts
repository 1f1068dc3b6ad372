import { createServer, type IncomingMessage, type Server } from "node:http";

/**
 * Another process's server on a loopback port that was someone else's: bound on 127.0.0.1:`port`
 * as soon as the port comes free (tried every `everyMs`, up to `tries` times), recording each
 * request it gets with `record` and answering 200 with `answer`. For the tests of what must never
 * send a byte to whoever took a dead replica's or a dead lfx's port.
 */
export async function squatPort(port: number, record: (req: IncomingMessage) => void, options: { answer?: string; tries?: number; everyMs?: number } = {}): Promise<Server> {
  const { answer = "{}", tries = 200, everyMs = 10 } = options;
  for (let i = 0; i < tries; i++) {
    const s = createServer((req, res) => {
      record(req);
      res.end(answer);
    });
    const ok = await new Promise<boolean>((r) => s.once("error", () => r(false)).listen(port, "127.0.0.1", () => r(true)));
    if (ok) return s;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`127.0.0.1:${port} never came free in ${tries} tries`);
}
