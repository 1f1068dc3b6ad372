import { adminKeyProof, type AdminKeyListener, type AdminKeyProofAnswer } from "@flowplane/core/api";
import { NotFoundError } from "@flowplane/core";

/**
 * This process's answer to the CLI's admin-key challenge (`POST /api/v1/admin-key/proof`,
 * core/api/admin-proof.ts says why). It holds the admin key once the process with the api role
 * has made sure of it (bootstrap.ts ensureOrgOwner), and where the API's public listener is: its
 * port and the addresses held at it (the main one and, once held, its twin: listen-twin.ts), which
 * the proof names so that a relayed answer does not pass for another listener's. Until a key is
 * held (or in a process that keeps none), the answer is 404.
 */
export class AdminKeyProver {
  private key: string | null = null;

  /** `listener()`: read at each answer (the twin address is held after the API is built). */
  constructor(private readonly listener: () => AdminKeyListener) {}

  /** The admin key as admin.key holds it now (after a first start or a rotation). */
  hold(key: string): void {
    this.key = key;
  }

  /**
   * `listenerPort`: the port of the listener the challenge came in on (http/relayed-client.ts
   * listenerPort: a worker's relayed request names its own listener's). Answered only where the
   * public listener is: a connection to its port (its twin's, or one a gateway worker accepted
   * there and handed over or relayed), or one with no port (the Unix socket the workers listen
   * on behind a native front, which holds the public port). Not on another TCP port of this
   * process (the private port, the loopback listener the workers relay to), which every local
   * account can reach: there a program that took the public port while the front or the workers
   * were down (their restart) had the challenge answered for the port it holds, and was sent the key.
   */
  async answer(nonce: string, listenerPort?: number): Promise<AdminKeyProofAnswer> {
    if (this.key === null) throw new NotFoundError("this process keeps no admin key");
    const at = this.listener();
    if (listenerPort !== undefined && listenerPort !== at.port) {
      throw new NotFoundError(`the admin-key challenge is answered on the API's public port (${at.port}) only`);
    }
    return { port: at.port, addresses: [...at.addresses], proof: await adminKeyProof(this.key, at, nonce) };
  }
}
