import { useEffect, useState, type ReactNode } from "react";
import { Link, useRouter } from "./lib/router";
import { useSession } from "./lib/session";
import { Icon } from "./ui/icons";
import { ProjectSwitcher } from "./pages/project-switcher";

/** The frame of every signed-in page: left navigation, top bar (project switcher, sign-out), content. */
export function Shell({ children }: { children: ReactNode }) {
  const s = useSession();
  const { location } = useRouter();
  const [navOpen, setNavOpen] = useState(false);
  useEffect(() => setNavOpen(false), [location.pathname]);
  const here = location.pathname;
  const item = (to: string, label: string, active: boolean) => (
    <Link to={to} className={`nav-item${active ? " active" : ""}`} aria-current={active ? "page" : undefined}>{label}</Link>
  );
  return (
    <div className="shell">
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <button type="button" className="icon-button nav-toggle" aria-label="Menu" aria-expanded={navOpen} aria-controls="sidenav" onClick={() => setNavOpen((o) => !o)}>
          <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 7h16M4 12h16M4 17h16" stroke="currentColor" strokeWidth="2" strokeLinecap="round" /></svg>
        </button>
        <Link to="/asset-library/published-flows" className="brand" aria-label="flowplane home">
          <span className="brand-mark" aria-hidden="true">
            <svg viewBox="0 0 32 32" width="26" height="26"><rect width="32" height="32" rx="8" fill="currentColor" /><path d="M9 10h14M9 16h10M9 22h6" stroke="#fff" strokeWidth="3" strokeLinecap="round" /></svg>
          </span>
          <span>flowplane</span>
        </Link>
        <div className="topbar-spacer" />
        <ProjectSwitcher />
        <div className="user">
          <span className="avatar" aria-hidden="true">{s.me.name.slice(0, 1).toUpperCase()}</span>
          <span className="user-name">{s.me.name}</span>
        </div>
        <button type="button" className="button button-ghost button-small" onClick={s.signOut}>
          <Icon name="logout" /> <span className="collapse-narrow">Sign out</span>
        </button>
      </header>
      <div className="layout">
        <nav id="sidenav" className={`sidenav${navOpen ? " open" : ""}`} aria-label="Main">
          <div className="nav-group">
            <div className="nav-heading"><Icon name="library" /> Asset Library</div>
            {item("/asset-library/published-flows", "Published Flows", here.startsWith("/asset-library"))}
          </div>
          <div className="nav-group">
            <div className="nav-heading"><Icon name="estate" /> Estate</div>
            {item("/estate/flows", "Flows", here.startsWith("/estate"))}
          </div>
          <div className="nav-group">
            <div className="nav-heading"><Icon name="lock" /> Administration</div>
            {item("/admin/people", "People and keys", here === "/admin/people")}
            {item("/admin/members", "Members", here === "/admin/members")}
          </div>
        </nav>
        <main id="main" className="content" tabIndex={-1}>{children}</main>
      </div>
    </div>
  );
}
