import { readFile } from "node:fs/promises";
import { listenerId, listensAt, loopbackListeners } from "@flowplane/core";
import { loopbackListener } from "@flowplane/driver-local";

/**
 * Checked once at start, where the gateway sends to local replicas: that this process sees, in
 * /proc/net/tcp, a loopback listener it makes itself, under its own inode and uid. Every new
 * connection to a local replica is checked against that table (forward.ts); a process that
 * cannot read it (a masked /proc) or reads another namespace's view of it (a user namespace
 * maps the uid away) would refuse every call with a 503. Better said at once, as a start
 * failure naming the cause, than found as an outage.
 */
export async function checkListenerTable(read: () => Promise<string> = () => readFile("/proc/net/tcp", "utf8")): Promise<void> {
  // A listener made as the driver makes a replica's, named as the driver names it.
  const own = await loopbackListener();
  try {
    let table: string;
    try {
      table = await read();
    } catch (e) {
      throw new Error(`the gateway cannot read /proc/net/tcp (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), which it needs to check each connection to a local replica`);
    }
    if (!listensAt(table, own.port, own.id)) {
      const seen = loopbackListeners(table, own.port).map(listenerId);
      throw new Error(`the gateway does not find its own loopback listener in /proc/net/tcp as ${own.id} (it reads ${seen.join(", ") || "none"}): /proc is another namespace's or hides sockets, and every connection to a local replica would be refused`);
    }
  } finally {
    own.close();
  }
}
