import { spawn } from "node:child_process";

/** What happened to each connection of a flood (loopbackFlood): how many of each. */
export type FloodOutcome = Partial<Record<"served" | "held" | "closed" | `${number}`, number>>;

/**
 * The child's program: opens `count` connections to 127.0.0.1:`port`, each from a source
 * address of its own in 127.0.0.0/8 (as a flow's code can), sends nothing, and reports once each
 * got an answer or closed, or `holdMs` went by: "served" (the test server's "hello"), an HTTP
 * status (a refusal), "closed" (closed without a byte), "held" (open and silent). It keeps every
 * connection it holds open until it is killed.
 */
const PROGRAM = `
const net = require("node:net");
const [port, count, holdMs] = process.argv.slice(1).map(Number);
const outcome = {};
let left = count;
const report = () => { if (left === 0) { left = -1; process.stdout.write(JSON.stringify(outcome) + "\\n"); } };
for (let i = 0; i < count; i++) {
  const s = net.connect({ port, host: "127.0.0.1", localAddress: "127.7." + Math.floor(i / 250) + "." + ((i % 250) + 1) });
  let text = "";
  let done = false;
  const settle = (r) => { if (done) return; done = true; outcome[r] = (outcome[r] || 0) + 1; left--; report(); };
  s.on("data", (b) => {
    text += b.toString("latin1");
    if (text.startsWith("hello")) settle("served");
    const m = /^HTTP\\/1\\.1 (\\d+) /.exec(text);
    if (m) settle(m[1]);
  });
  s.on("error", () => {});
  s.on("close", () => settle("closed"));
  setTimeout(() => settle("held"), holdMs);
}
setInterval(() => {}, 60000);
`;

/**
 * Many idle loopback connections from a process running as `uid` (and gid `uid`): what a local
 * replica's flow can open, each from another 127.x address. Needs root (setuid). `outcome`
 * resolves once every connection is settled; `stop` ends the process and its connections.
 */
export function loopbackFlood(o: { uid: number; port: number; count: number; holdMs?: number }): { outcome: Promise<FloodOutcome>; stop: () => void } {
  const child = spawn(process.execPath, ["-e", PROGRAM, String(o.port), String(o.count), String(o.holdMs ?? 2_000)], { uid: o.uid, gid: o.uid, cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const outcome = new Promise<FloodOutcome>((resolve, reject) => {
    child.stdout.on("data", () => {
      if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]!) as FloodOutcome);
    });
    child.once("exit", (code, signal) => reject(new Error(`the flood's process ended (${code ?? signal}) before it reported: ${err}`)));
    child.once("error", reject);
  });
  return { outcome, stop: () => void child.kill("SIGKILL") };
}
