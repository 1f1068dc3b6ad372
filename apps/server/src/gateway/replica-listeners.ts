/**
 * A gateway's record of each replica's listener (core's listenerId) as its sets were last told
 * it, per deployment and URL (GatewaySources.replicaListener): what a worker keeps from the
 * pushed ready sets and a split gateway from the published endpoints.
 *
 * Per deployment, never per URL alone: a port reused by another deployment's replica is that
 * one's, not this one's. Kept past the set that named it: a URL comes back only in a set that
 * names its listener again, and until then a stale one fails the check (another socket), which
 * refuses the connection rather than trust it. A URL told without one is not checked.
 */
export class ReplicaListeners {
  private readonly byRuntime = new Map<string, Map<string, string>>();

  /** A set of `resourceName`'s replica URLs, with the listeners known for them. */
  told(resourceName: string, urls: readonly string[], listeners: Readonly<Record<string, string>> | undefined): void {
    let named = this.byRuntime.get(resourceName);
    if (!named) this.byRuntime.set(resourceName, (named = new Map()));
    for (const url of urls) {
      const id = listeners?.[url];
      if (id) named.set(url, id);
      else named.delete(url);
    }
  }

  get(resourceName: string, url: string): string | undefined {
    return this.byRuntime.get(resourceName)?.get(url);
  }
}
