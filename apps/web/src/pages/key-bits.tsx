import { useCallback, useEffect, useState } from "react";
import { MAX_KEY_DAYS, MAX_LIVE_KEYS, MIN_KEY_DAYS, type AccessKey, type CreatedKey, type UserKind } from "@flowplane/core/api";
import { errorText } from "../api/client";
import { useSession } from "../lib/session";
import { CopyButton } from "../ui/copy";
import { Icon } from "../ui/icons";
import { formatTime } from "./bundle-bits";

const isLive = (k: AccessKey) => !k.revokedAt && Date.parse(k.expiresAt) > Date.now();

/** A new key, shown this once: the server keeps only its hash, so closing loses it for good. */
export function KeyShownOnce({ created }: { created: CreatedKey }) {
  return (
    <div className="key-once" data-created-key>
      <p className="notice notice-warn" role="alert">
        <Icon name="alert" /> Copy this key now. It will not be shown again: flowplane keeps only a hash of it.
      </p>
      <div className="endpoint">
        <code className="url" data-key-value>{created.key}</code>
        <CopyButton text={created.key} what="the access key" />
      </div>
      <p className="muted small">Expires {formatTime(created.expiresAt)}.</p>
    </div>
  );
}

/**
 * One user's keys: prefix, creation, expiry, last use and state (never the key), with create
 * and revoke. The live-key limit is shown up front, and Create is disabled with the reason
 * when it is reached, before the server would refuse it.
 */
export function KeysPanel({ userId, userName, kind, deactivated }: { userId: string; userName: string; kind: UserKind; deactivated: boolean }) {
  const s = useSession();
  const [keys, setKeys] = useState<AccessKey[] | null>(null);
  const [days, setDays] = useState("90");
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(async () => {
    try {
      setKeys((await s.api("listAccessKeys", { params: { userId } })).items);
    } catch (e) {
      setError(errorText(e));
    }
  }, [s.api, userId]);
  useEffect(() => {
    setCreated(null);
    void load();
  }, [load]);
  const max = MAX_LIVE_KEYS[kind];
  const live = keys?.filter(isLive).length ?? 0;
  const blocked = deactivated
    ? `${userName} is deactivated: no key can be created.`
    : live >= max ? `${userName} already holds ${max} live key${max > 1 ? "s" : ""}, the most a ${kind} user may hold: revoke one first.` : null;
  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      setCreated(await s.api("createAccessKey", { params: { userId }, body: { expiresInDays: Number(days) } }));
      await load();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (k: AccessKey) => {
    setError(null);
    try {
      await s.api("revokeAccessKey", { params: { keyId: k.id } });
      await load();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <div className="keys-panel" data-keys-for={userName}>
      <p className="muted small">
        {live} of {max} live keys ({kind === "machine" ? "a machine user may hold two, to rotate" : "a person may hold one"}). Keys expire after {MIN_KEY_DAYS} to {MAX_KEY_DAYS} days; a revoked key is refused within 5 seconds.
      </p>
      {created && <KeyShownOnce created={created} />}
      {keys && keys.length > 0 && (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th scope="col">Key</th><th scope="col">State</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <td className="mono">{k.prefix}…</td>
                  <td>{k.revokedAt ? <span className="badge badge-neutral">revoked</span> : isLive(k) ? <span className="badge badge-ok">live</span> : <span className="badge badge-warn">expired</span>}</td>
                  <td className="muted">{formatTime(k.createdAt)}</td>
                  <td className="muted">{formatTime(k.expiresAt)}</td>
                  <td className="muted" data-last-used>{k.lastUsedAt ? formatTime(k.lastUsedAt) : "never"}</td>
                  <td>{!k.revokedAt && <button type="button" className="button button-small" onClick={() => void revoke(k)}>Revoke<span className="sr-only"> key {k.prefix}</span></button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {keys && keys.length === 0 && <p className="muted">No keys yet.</p>}
      <div className="inline-form">
        <label>Expires in (days) <input type="number" min={MIN_KEY_DAYS} max={MAX_KEY_DAYS} value={days} onChange={(e) => setDays(e.target.value)} aria-label="Expires in (days)" /></label>
        <button type="button" className="button button-primary" disabled={busy || blocked !== null} title={blocked ?? undefined} onClick={() => void create()}>
          <Icon name="plus" /> Create key
        </button>
      </div>
      {blocked && <p className="muted small" data-disabled-reason>{blocked}</p>}
      {error && <p className="notice notice-error" role="alert">{error}</p>}
    </div>
  );
}
