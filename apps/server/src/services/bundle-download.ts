import { ForbiddenError, NotFoundError, UnauthenticatedError, type IdentityVerifier, type Store } from "@flowplane/core";

export interface BundleDownload {
  name: string;
  versionTag: string;
  digest: string;
  flows: unknown[];
}

/**
 * The internal endpoint runtime replicas download their bundle from. A replica proves which
 * deployment it is with its identity token; it gets that deployment's pinned version and
 * nothing else (another deployment's token: 403; an undeployed deployment: 404).
 */
export class BundleDownloadService {
  constructor(private readonly o: { store: Store; verifier: IdentityVerifier }) {}

  async download(deploymentId: string, token: string | undefined): Promise<BundleDownload> {
    const owner = token ? await this.o.verifier.verify(token) : null;
    if (!owner) throw new UnauthenticatedError("a deployment identity token is required");
    if (owner !== deploymentId) throw new ForbiddenError("this identity token belongs to another deployment");
    const d = await this.o.store.getDeployment(deploymentId);
    if (!d || d.deletionRequestedAt || d.deletedAt) throw new NotFoundError(`deployment ${deploymentId} not found`);
    const [version, flows] = await Promise.all([
      this.o.store.getVersion(d.bundle.name, d.bundle.version, null),
      this.o.store.getRawFlows(d.bundle.name, d.bundle.version),
    ]);
    if (!version || !flows) throw new NotFoundError(`${d.bundle.name}@${d.bundle.version} no longer exists`);
    return { name: version.name, versionTag: version.versionTag, digest: version.digest, flows };
  }
}
