import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, createClient, listAll, type Api } from "../api/client";
import type { Me, Project, Role } from "@flowplane/core/api";

/**
 * The signed-in caller. The access key lives in sessionStorage only (gone with the tab, never
 * logged, never in a URL); the chosen project in localStorage, since it is not a secret.
 */
const KEY_STORAGE = "flowplane.accessKey";
const PROJECT_STORAGE = "flowplane.projectId";

export interface Session {
  api: Api;
  me: Me;
  projects: Project[];
  project: Project | null;
  setProject: (id: string) => void;
  /** The caller's role in a project (org owners have every right). */
  roleIn: (projectId: string) => Role | null;
  reloadProjects: () => Promise<void>;
  /**
   * A call to a deployment through the gateway, as any client makes it, with this session's
   * key as `x-access-key` (the key is added here and never leaves this module otherwise).
   */
  gatewayFetch: (url: string, init?: RequestInit) => Promise<Response>;
  signOut: () => void;
}

type State =
  | { kind: "loading" }
  | { kind: "signedOut"; reason?: string }
  | { kind: "signedIn"; key: string; me: Me; projects: Project[]; projectId: string | null };

interface SessionControl {
  state: State;
  signIn: (key: string) => Promise<void>;
  session: Session | null;
}

const Ctx = createContext<SessionControl | null>(null);

async function load(key: string, onUnauthenticated: () => void) {
  const api = createClient(key, onUnauthenticated);
  const me = await api("getMe", {});
  const projects = await listAll(api, "listProjects", {});
  return { me, projects };
}

function pickProject(projects: Project[], wanted: string | null): string | null {
  if (wanted && projects.some((p) => p.id === wanted)) return wanted;
  return projects[0]?.id ?? null;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>(() => (sessionStorage.getItem(KEY_STORAGE) ? { kind: "loading" } : { kind: "signedOut" }));

  const signOut = useCallback((reason?: string) => {
    sessionStorage.removeItem(KEY_STORAGE);
    setState({ kind: "signedOut", ...(reason ? { reason } : {}) });
  }, []);
  const expired = useCallback(() => signOut("Your access key is no longer valid. Sign in again."), [signOut]);

  const signIn = useCallback(async (key: string) => {
    const { me, projects } = await load(key, () => undefined);
    sessionStorage.setItem(KEY_STORAGE, key);
    const wanted = new URLSearchParams(window.location.search).get("project") ?? localStorage.getItem(PROJECT_STORAGE);
    setState({ kind: "signedIn", key, me, projects, projectId: pickProject(projects, wanted) });
  }, []);

  // A key kept from earlier in this tab: check it once at start.
  useEffect(() => {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (!key) return;
    signIn(key).catch((e: unknown) => signOut(e instanceof ApiError && e.status === 401 ? "Your access key is no longer valid. Sign in again." : undefined));
  }, [signIn, signOut]);

  const session = useMemo<Session | null>(() => {
    if (state.kind !== "signedIn") return null;
    const api = createClient(state.key, expired);
    const project = state.projects.find((p) => p.id === state.projectId) ?? null;
    return {
      api,
      me: state.me,
      projects: state.projects,
      project,
      setProject: (id) => {
        localStorage.setItem(PROJECT_STORAGE, id);
        setState((s) => (s.kind === "signedIn" ? { ...s, projectId: id } : s));
      },
      roleIn: (projectId) => (state.me.orgOwner ? "owner" : (state.me.roles[projectId] ?? null)),
      reloadProjects: async () => {
        const { me, projects } = await load(state.key, expired);
        setState((s) => (s.kind === "signedIn" ? { ...s, me, projects, projectId: pickProject(projects, s.projectId) } : s));
      },
      gatewayFetch: (url, init = {}) => {
        const headers = new Headers(init.headers);
        headers.set("x-access-key", state.key);
        // A replica (a team's code) answers here: its redirect is not followed with the key to
        // another origin (a CORS preflight it answers would let the browser send it there).
        return fetch(url, { ...init, headers, credentials: "omit", redirect: "error" });
      },
      signOut: () => signOut(),
    };
  }, [state, expired, signOut]);

  const value = useMemo(() => ({ state, signIn, session }), [state, signIn, session]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSessionControl(): SessionControl {
  const c = useContext(Ctx);
  if (!c) throw new Error("useSessionControl outside <SessionProvider>");
  return c;
}

/** The session of a signed-in page (the app shell renders pages only when signed in). */
export function useSession(): Session {
  const s = useSessionControl().session;
  if (!s) throw new Error("useSession while signed out");
  return s;
}

const RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3 };
export function atLeast(role: Role | null, wanted: Role): boolean {
  return role !== null && RANK[role] >= RANK[wanted];
}
