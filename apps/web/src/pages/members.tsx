import { useCallback, useEffect, useState } from "react";
import { ROLES, type Member, type Role, type User } from "@flowplane/core/api";
import { errorText, listAll } from "../api/client";
import { atLeast, useSession } from "../lib/session";
import { Icon } from "../ui/icons";
import { Empty, ErrorState, Loading } from "../ui/states";
import { PageHeader } from "./page-header";

const ROLE_HELP: Record<Role, string> = {
  viewer: "sees and calls the project's deployments",
  editor: "also publishes, deploys, edits and scales",
  owner: "also undeploys and manages members",
};

/**
 * Administration > Members: the current project's members and roles. Project owners and org
 * owners change them; everyone else sees the list with the controls disabled and the reason.
 * Org owners pick users from the list; project owners, who may not list users, give an id.
 */
export function Members() {
  const s = useSession();
  const project = s.project;
  const [members, setMembers] = useState<Member[] | null>(null);
  const [users, setUsers] = useState<User[]>([]);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [error, setError] = useState<string | null>(null);
  const [who, setWho] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const projectId = project?.id;
  const load = useCallback(async () => {
    if (!projectId) return;
    try {
      setMembers((await s.api("listMembers", { params: { projectId } })).items);
      if (s.me.orgOwner) setUsers(await listAll(s.api, "listUsers", {}));
    } catch (e) {
      setLoadError(e);
    }
  }, [s.api, s.me.orgOwner, projectId]);
  useEffect(() => void load(), [load]);
  if (!project || !projectId) return <Empty title="No project yet">Choose or create a project in the top bar.</Empty>;
  if (loadError && !members) return <ErrorState error={loadError} onRetry={() => void load()} />;
  if (!members) return <Loading what="members" />;

  const canManage = atLeast(s.roleIn(projectId), "owner");
  const reason = canManage ? null : `Only owners of ${project.name} and organisation owners change members; your role here is ${s.roleIn(projectId) ?? "none"}.`;
  const act = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      await load();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const candidates = users.filter((u) => !u.deactivatedAt && !members.some((m) => m.userId === u.id));
  return (
    <>
      <PageHeader crumb="Administration" title={`Members of ${project.name}`}>
        Who may see, call and change this project's deployments. Roles: {ROLES.slice().reverse().map((r) => `${r} (${ROLE_HELP[r]})`).join("; ")}.
      </PageHeader>
      {reason && <p className="notice notice-info" data-disabled-reason>{reason}</p>}
      {members.length === 0 ? <p className="muted">No members yet.</p> : (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {members.map((m) => {
                const self = m.userId === s.me.id && !s.me.orgOwner;
                const why = reason ?? (self ? "You cannot change your own role; ask another owner." : undefined);
                return (
                  <tr key={m.userId} data-member={m.userName}>
                    <td><span className="cell-title">{m.userName}</span><div className="cell-sub mono">{m.userId}</div></td>
                    <td>
                      <select aria-label={`Role of ${m.userName}`} value={m.role} disabled={why !== undefined} title={why}
                        onChange={(e) => void act(() => s.api("setMember", { params: { projectId, userId: m.userId }, body: { role: e.target.value as Role } }))}>
                        {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                      </select>
                    </td>
                    <td>
                      <button type="button" className="button button-small" disabled={why !== undefined} title={why}
                        onClick={() => void act(() => s.api("removeMember", { params: { projectId, userId: m.userId } }))}>
                        Remove<span className="sr-only"> {m.userName}</span>
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {canManage && (
        <section className="card" aria-labelledby="add-member">
          <header className="card-header"><h2 id="add-member">Add a member</h2></header>
          <form className="inline-form" onSubmit={(e) => { e.preventDefault(); void act(async () => { await s.api("setMember", { params: { projectId, userId: who }, body: { role } }); setWho(""); }); }}>
            {s.me.orgOwner ? (
              <label>User
                <select value={who} onChange={(e) => setWho(e.target.value)} aria-label="User">
                  <option value="">Choose a user…</option>
                  {candidates.map((u) => <option key={u.id} value={u.id}>{u.name} ({u.kind})</option>)}
                </select>
              </label>
            ) : (
              <label>User id <input value={who} onChange={(e) => setWho(e.target.value.trim())} aria-label="User id" placeholder="ask an organisation owner for it" /></label>
            )}
            <label>Role
              <select value={role} onChange={(e) => setRole(e.target.value as Role)} aria-label="Role">
                {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
              </select>
            </label>
            <button type="submit" className="button button-primary" disabled={!who}><Icon name="plus" /> Add member</button>
          </form>
        </section>
      )}
      {error && <p className="notice notice-error" role="alert">{error}</p>}
    </>
  );
}
