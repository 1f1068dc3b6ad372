import { maxHeaderSize } from "node:http";
import { isIP } from "node:net";
import { hasBareLineEnd, type ProxiedClient } from "./proxy-protocol.js";

/**
 * Behind nginx (nginx/config.ts), the workers' Unix socket gets each call nginx does not serve on
 * a connection of its own, with the client's address in this header, which nginx always sets over
 * whatever the client sent: `$remote_addr`, an IP literal without a port (IPv6 without brackets).
 * nginx's HTTP proxy cannot send a PROXY line (proxy-protocol.ts), so this header is its stand-in.
 * Only the first head of a connection is read: nginx opens one per call (config.ts `fp_workers`,
 * no keepalive) and sends `Connection: close` (or an upgrade), so no second head follows. Were
 * nginx ever to reuse these connections, a later call's header would reach the HTTP server as is.
 */
export const CLIENT_ADDRESS_HEADER = "x-flowplane-client-address";

/**
 * The longest head read before it must have ended: node:http's own limit (16 KiB unless
 * --max-http-header-size says otherwise) plus room for the line nginx adds (the header's name,
 * the longest IPv6 literal with a zone, CRLF). So a client's headers are held to the limit
 * they meet without nginx, and the HTTP server that parses the head afterwards still applies it.
 */
export const MAX_CLIENT_HEAD = maxHeaderSize + 128;

/** Spaces and tabs only: `String.trim` would also take latin1's no-break space, which is part of a value for HTTP. */
const ows = (s: string) => s.replace(/^[ \t]+|[ \t]+$/g, "");

/**
 * Reads the request head at the start of `buf` on a connection from nginx: the client it names
 * and the head without CLIENT_ADDRESS_HEADER (then whatever followed it), so nothing downstream,
 * the gateway or the API, can take that header for one the client sent. "incomplete": more bytes
 * are needed; "too-large": no end of head within `maxHead` (the client's doing: answered 431, as
 * Node answers it); null: not what nginx sends (no such header, two, a value that is not an IP
 * literal, a bare CR or LF, a folded line): only nginx reaches this socket, so that is a bug to
 * refuse, not a client to serve.
 */
export function readClientHead(buf: Buffer, maxHead = MAX_CLIENT_HEAD): { client: ProxiedClient; head: Buffer } | "incomplete" | "too-large" | null {
  const end = buf.indexOf("\r\n\r\n");
  // Not nginx's either: refused as soon as it is read, not once the head had ended (it never would).
  if (end === -1) return hasBareLineEnd(buf) ? null : buf.length < maxHead ? "incomplete" : "too-large";
  if (end + 4 > maxHead) return "too-large";
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  let at = -1;
  let address = "";
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    // Where Node and this reader could disagree on where a header starts: nginx never sends these.
    if (/[\r\n]/.test(line) || line.startsWith(" ") || line.startsWith("\t")) return null;
    const colon = line.indexOf(":");
    // The name as any reader could take it (`Name :` is one too, that Node would refuse).
    if (colon === -1 || ows(line.slice(0, colon)).toLowerCase() !== CLIENT_ADDRESS_HEADER) continue;
    if (at !== -1) return null;
    at = i;
    address = ows(line.slice(colon + 1));
  }
  if (at === -1 || isIP(address) === 0) return null;
  lines.splice(at, 1);
  // latin1 both ways: the bytes of every other line come back as they were.
  return { client: { address }, head: Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), buf.subarray(end)]) };
}
