import { createServer, type AddressInfo, type Server } from "node:net";
import { capConnections, type ConnectionCap } from "./connection-cap.js";

/**
 * For the connection cap's tests on real sockets: a loopback server answering "hello\n" to each
 * connection `cap` admits, added to `servers` (the caller closes them); answers its port.
 */
export async function servedBehind(cap: ConnectionCap, servers: Server[]): Promise<number> {
  const server = createServer((socket) => socket.write("hello\n"));
  capConnections(server, cap);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}
