import { readlinkSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { listenerId, loopbackListeners } from "@flowplane/core";

/**
 * Checked once at start, where the gateway sends to local replicas: that this process sees, in
 * /proc/net/tcp, a loopback listener it makes itself, under its own inode and uid. Every new
 * connection to a local replica is checked against that table (forward.ts); a process that
 * cannot read it (a masked /proc) or reads another namespace's view of it (a user namespace
 * maps the uid away) would refuse every call with a 503. Better said at once, as a start
 * failure naming the cause, than found as an outage.
 */
export async function checkListenerTable(read: () => Promise<string> = () => readFile("/proc/net/tcp", "utf8")): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
  try {
    const { port } = server.address() as { port: number };
    const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    const id = typeof fd === "number" && fd >= 0 ? listenerId({ inode: readlinkSync(`/proc/self/fd/${fd}`), uid: process.geteuid?.() ?? 0 }) : null;
    let table: string;
    try {
      table = await read();
    } catch (e) {
      throw new Error(`the gateway cannot read /proc/net/tcp (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), which it needs to check each connection to a local replica`);
    }
    const seen = loopbackListeners(table, port).map(listenerId);
    if (!id || !seen.includes(id)) {
      throw new Error(`the gateway does not find its own loopback listener in /proc/net/tcp as ${id ?? "(no descriptor)"} (it reads ${seen.join(", ") || "none"}): /proc is another namespace's or hides sockets, and every connection to a local replica would be refused`);
    }
  } finally {
    server.close();
  }
}
