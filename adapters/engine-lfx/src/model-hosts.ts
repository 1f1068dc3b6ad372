import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Model servers on loopback or a private network (a local vLLM, Ollama, an OpenAI-compatible
 * gateway). Two lfx behaviours stand in their way, neither switchable by lfx's settings:
 *
 * - `lfx.utils.util.transform_localhost_url` rewrites `localhost`/`127.0.0.1` in a model's base
 *   URL to `host.docker.internal` (or the default gateway) whenever lfx believes it runs in a
 *   container (`/.dockerenv`, a docker cgroup). In flowplane lfx shares the replica's network,
 *   so that rewrite sends the call to another machine;
 * - its SSRF guard (`lfx/utils/ssrf_protection.py`) then refuses private and reserved addresses
 *   unless they are listed in `LANGFLOW_SSRF_ALLOWED_HOSTS` (hosts, IPs or CIDR ranges).
 *
 * The operator lists the allowed model hosts once (FLOWPLANE_MODEL_HOSTS). For those hosts the
 * engine passes the list to lfx as LANGFLOW_SSRF_ALLOWED_HOSTS and keeps their URLs as written
 * (a `sitecustomize` module, loaded by Python before lfx, wraps transform_localhost_url so it
 * leaves listed hosts alone). Every other host keeps lfx's own behaviour.
 */

/** `"127.0.0.1, 10.0.0.0/8 ,"` -> `["127.0.0.1", "10.0.0.0/8"]`; refuses what cannot be a host, IP or CIDR range. */
export function parseModelHosts(list: string): string[] {
  const hosts = list.split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);
  for (const h of hosts) if (!/^[a-z0-9.:_-]+(\/\d{1,3})?$/.test(h)) throw new Error(`"${h}" is not a host name, IP address or CIDR range`);
  return hosts;
}

const SITECUSTOMIZE = `# Written by flowplane's lfx engine (adapters/engine-lfx/src/model-hosts.ts): keep model URLs
# whose host the operator allowed (FLOWPLANE_MODEL_HOSTS) as written instead of rewriting
# localhost to a container host address.
import os
from urllib.parse import urlparse

_allowed = {h.strip().lower() for h in os.environ.get("FLOWPLANE_MODEL_HOSTS", "").split(",") if h.strip()}
if _allowed:
    import lfx.utils.util as _util

    _original = _util.transform_localhost_url

    def transform_localhost_url(url):
        try:
            host = (urlparse(url).hostname or "").lower() if url else ""
        except ValueError:
            host = ""
        if host and host in _allowed:
            return url
        return _original(url)

    _util.transform_localhost_url = transform_localhost_url
`;

/**
 * The environment lfx needs for the allowed model hosts, with the sitecustomize module written
 * into `dir` (a folder of the engine's private directory). Empty when no host is allowed.
 */
export function modelHostsEnv(hosts: readonly string[], dir: string): Record<string, string> {
  if (hosts.length === 0) return {};
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "sitecustomize.py"), SITECUSTOMIZE, { mode: 0o600 });
  return { FLOWPLANE_MODEL_HOSTS: hosts.join(","), LANGFLOW_SSRF_ALLOWED_HOSTS: hosts.join(","), PYTHONPATH: dir };
}
