import type { SecretBox } from "./secretbox.js";

/**
 * The one place a deployment's credential values become the blob the store keeps, and back.
 * The blob is bound to its deployment (the id is the AEAD's associated data): a blob copied
 * onto another deployment's row, or altered by one bit, does not open. Errors name the
 * deployment, never a value.
 */
export interface DeploymentCredentials {
  seal(deploymentId: string, values: Record<string, string>): Buffer;
  /** The values sealed for `deploymentId`; `null` (no stored row) opens as no values. */
  open(deploymentId: string, blob: Buffer | null): Record<string, string>;
}

export function createDeploymentCredentials(box: SecretBox): DeploymentCredentials {
  return {
    seal(deploymentId, values) {
      return box.seal(JSON.stringify(values), deploymentId);
    },
    open(deploymentId, blob) {
      if (blob === null) return {};
      let text: string;
      try {
        text = box.open(blob, deploymentId);
      } catch {
        // The cipher's own message says nothing useful; the cause is one of these three.
        throw new Error(`the credentials of deployment ${deploymentId} do not open: another deployment's blob, a damaged blob, or another encryption key`);
      }
      const values: unknown = JSON.parse(text);
      if (typeof values !== "object" || values === null || Array.isArray(values) || Object.values(values).some((v) => typeof v !== "string")) {
        throw new Error(`the credentials of deployment ${deploymentId} are not a map of names to strings`);
      }
      return values as Record<string, string>;
    },
  };
}
