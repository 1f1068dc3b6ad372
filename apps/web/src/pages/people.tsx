import { useCallback, useEffect, useState } from "react";
import type { User, UserKind } from "@flowplane/core/api";
import { errorText, listAll } from "../api/client";
import { useSession } from "../lib/session";
import { TextField } from "../ui/field";
import { Icon } from "../ui/icons";
import { ErrorState, Loading } from "../ui/states";
import { formatTime } from "./bundle-bits";
import { KeysPanel } from "./key-bits";
import { PageHeader } from "./page-header";

/**
 * Administration > People: users and machine users, and their access keys. Managing users is
 * for organisation owners (the server answers 403 to anyone else); others see only their own
 * keys here, and are told why.
 */
export function People() {
  const s = useSession();
  if (!s.me.orgOwner) {
    return (
      <>
        <PageHeader crumb="Administration" title="People and keys">Your own access keys.</PageHeader>
        <p className="notice notice-info" data-disabled-reason>Only organisation owners list, add and deactivate users. You can manage your own keys below.</p>
        <section className="card"><header className="card-header"><h2>Your keys</h2></header>
          <KeysPanel userId={s.me.id} userName={s.me.name} kind={s.me.kind} deactivated={false} />
        </section>
      </>
    );
  }
  return <UsersAdmin />;
}

function UsersAdmin() {
  const s = useSession();
  const [users, setUsers] = useState<User[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [kind, setKind] = useState<UserKind>("machine");
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setUsers(await listAll(s.api, "listUsers", {}));
    } catch (e) {
      setLoadError(e);
    }
  }, [s.api]);
  useEffect(() => void load(), [load]);

  const add = async () => {
    setError(null);
    try {
      const u = await s.api("createUser", { body: { name, kind } });
      setName("");
      await load();
      setSelected(u.id);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const deactivate = async (u: User) => {
    setError(null);
    try {
      await s.api("deactivateUser", { params: { userId: u.id } });
      await load();
    } catch (e) {
      setError(errorText(e));
    }
  };
  if (loadError && !users) return <ErrorState error={loadError} onRetry={() => void load()} />;
  if (!users) return <Loading what="users" />;
  const chosen = users.find((u) => u.id === selected) ?? null;
  return (
    <>
      <PageHeader crumb="Administration" title="People and keys">
        People and machine users (applications, agents), and their access keys. Give them a role in a project under Members.
      </PageHeader>
      <section className="card" aria-labelledby="add-user">
        <header className="card-header"><h2 id="add-user">Add a user</h2></header>
        <form className="inline-form" onSubmit={(e) => { e.preventDefault(); void add(); }}>
          <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} maxLength={64} required />
          <fieldset className="radio-row">
            <legend>Kind</legend>
            <label><input type="radio" name="kind" value="machine" checked={kind === "machine"} onChange={() => setKind("machine")} /> Machine user (two live keys, to rotate)</label>
            <label><input type="radio" name="kind" value="human" checked={kind === "human"} onChange={() => setKind("human")} /> Person (one live key)</label>
          </fieldset>
          <button type="submit" className="button button-primary" disabled={!name.trim()}><Icon name="plus" /> Add user</button>
        </form>
        {error && <p className="notice notice-error" role="alert">{error}</p>}
      </section>
      <div className="table-wrap">
        <table className="table">
          <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col" className="hide-narrow">Created</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {users.map((u) => {
              const self = u.id === s.me.id;
              return (
                <tr key={u.id} data-user={u.name}>
                  <td><span className="cell-title">{u.name}</span><div className="cell-sub mono hide-narrow">{u.id}</div></td>
                  <td>{u.kind}{u.orgOwner && <span className="badge badge-info badge-after">org owner</span>}</td>
                  <td>{u.deactivatedAt ? <span className="badge badge-neutral">deactivated</span> : <span className="badge badge-ok">active</span>}</td>
                  <td className="hide-narrow muted">{formatTime(u.createdAt)}</td>
                  <td><div className="row-actions">
                    <button type="button" className="button button-small" aria-pressed={selected === u.id} onClick={() => setSelected(u.id)}>Keys<span className="sr-only"> of {u.name}</span></button>
                    {!u.deactivatedAt && (
                      <button type="button" className="button button-small" disabled={self} title={self ? "You cannot deactivate yourself" : undefined} onClick={() => void deactivate(u)}>
                        Deactivate<span className="sr-only"> {u.name}</span>
                      </button>
                    )}
                  </div></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {chosen && (
        <section className="card" aria-labelledby="keys-of">
          <header className="card-header"><h2 id="keys-of">Access keys of {chosen.name}</h2></header>
          <KeysPanel userId={chosen.id} userName={chosen.name} kind={chosen.kind} deactivated={chosen.deactivatedAt !== null} />
        </section>
      )}
    </>
  );
}
