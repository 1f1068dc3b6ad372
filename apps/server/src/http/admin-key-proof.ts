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

  async answer(nonce: string): Promise<AdminKeyProofAnswer> {
    if (this.key === null) throw new NotFoundError("this process keeps no admin key");
    const at = this.listener();
    return { port: at.port, addresses: [...at.addresses], proof: await adminKeyProof(this.key, at, nonce) };
  }
}
