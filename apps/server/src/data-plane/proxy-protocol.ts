import type { Socket } from "node:net";

/** The longest PROXY v1 line (the spec's 107 bytes). */
const MAX_PROXY_LINE = 107;

export interface ProxiedClient {
  address: string;
  /** Absent behind nginx, whose header names the address only (client-header.ts). */
  port?: number;
}

/**
 * Reads a PROXY protocol v1 line (`PROXY TCP4 <src> <dst> <sport> <dport>\r\n`) at the start of
 * `head`: what flowplane's own HAProxy sends first on every connection it passes to the Node
 * listener on loopback (FLOWPLANE_GATEWAY_PROXY=haproxy), so the gateway and the API still see
 * the client's address (rate limits, X-Forwarded-For). "incomplete": more bytes are needed;
 * null: not a PROXY line (the connection is refused: only HAProxy talks to this listener).
 */
export function readProxyLine(head: Buffer): { client: ProxiedClient | undefined; rest: Buffer } | "incomplete" | null {
  const eol = head.indexOf("\r\n");
  if (eol === -1) return head.length < MAX_PROXY_LINE && "PROXY ".startsWith(head.subarray(0, 6).toString("latin1")) && !hasBareLineEnd(head) ? "incomplete" : null;
  const f = head.subarray(0, eol).toString("latin1").split(" ");
  if (f[0] !== "PROXY") return null;
  const rest = head.subarray(eol + 2);
  if (f[1] === "UNKNOWN") return { client: undefined, rest };
  if ((f[1] !== "TCP4" && f[1] !== "TCP6") || f.length !== 6) return null;
  const port = Number(f[4]);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || !/^[0-9a-fA-F.:]+$/.test(f[2]!)) return null;
  return { client: { address: f[2]!, port }, rest };
}

/**
 * A bare LF, or a CR followed by anything but LF, in `buf` (a CR as its last byte may still be a
 * CRLF's): what no proxy in front sends (HAProxy and nginx end every line with CRLF). Were one
 * sent, the CRLF looked for would never come, and the connection would be held to the first-line
 * deadline (connections.ts) rather than refused at once.
 */
export function hasBareLineEnd(buf: Buffer): boolean {
  for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) if (i === 0 || buf[i - 1] !== 0x0d) return true;
  for (let i = buf.indexOf(0x0d); i !== -1 && i + 1 < buf.length; i = buf.indexOf(0x0d, i + 1)) if (buf[i + 1] !== 0x0a) return true;
  return false;
}

/** The socket answers as the client's: `remoteAddress` and `remotePort` are read by the gateway and the API alike. */
export function actAsClient(socket: Socket, client: ProxiedClient | undefined): void {
  if (!client) return;
  Object.defineProperty(socket, "remoteAddress", { value: client.address, configurable: true });
  Object.defineProperty(socket, "remotePort", { value: client.port, configurable: true });
  Object.defineProperty(socket, "remoteFamily", { value: client.address.includes(":") ? "IPv6" : "IPv4", configurable: true });
}
