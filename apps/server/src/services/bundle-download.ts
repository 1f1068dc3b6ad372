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

  /**
   * `revision`: the version of that revision of the deployment (`?revision=N`: replicas of a
   * live revision other than the current one, a canary's stable one or a warm one, run their own
   * version). Only the deployment's own revisions: a token never reaches another's bundle.
   */
  async download(deploymentId: string, token: string | undefined, revision?: string): Promise<BundleDownload> {
    const owner = token ? await this.o.verifier.verify(token) : null;
    if (!owner) throw new UnauthenticatedError("a deployment identity token is required");
    if (owner !== deploymentId) throw new ForbiddenError("this identity token belongs to another deployment");
    const d = await this.o.store.getDeployment(deploymentId);
    if (!d || d.deletionRequestedAt || d.deletedAt) throw new NotFoundError(`deployment ${deploymentId} not found`);
    let bundle = d.bundle;
    if (revision !== undefined) {
      const n = /^[1-9][0-9]{0,9}$/.test(revision) ? Number(revision) : NaN;
      const r = Number.isSafeInteger(n) ? await this.o.store.getRevision(deploymentId, n) : null;
      if (!r) throw new NotFoundError(`deployment ${deploymentId} has no revision ${revision}`);
      bundle = r.bundle;
    }
    const [version, flows] = await Promise.all([
      this.o.store.getVersion(bundle.name, bundle.version, null),
      this.o.store.getRawFlows(bundle.name, bundle.version),
    ]);
    if (!version || !flows) throw new NotFoundError(`${bundle.name}@${bundle.version} no longer exists`);
    return { name: version.name, versionTag: version.versionTag, digest: version.digest, flows };
  }
}
