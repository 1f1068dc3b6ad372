import { useEffect } from "react";
import { Router, matchPath, useRouter } from "./lib/router";
import { SessionProvider, useSessionControl } from "./lib/session";
import { ToastProvider } from "./ui/toasts";
import { Loading } from "./ui/states";
import { Shell } from "./shell";
import { SignIn } from "./pages/sign-in";
import { PublishedFlows } from "./pages/published-flows";
import { EstateFlows } from "./pages/estate-flows";
import { DeploymentDetails } from "./details/deployment-details";
import { NotFound } from "./pages/not-found";
import { People } from "./pages/people";
import { Members } from "./pages/members";

export const HOME = "/asset-library/published-flows";

export function App() {
  return (
    <Router>
      <ToastProvider>
        <SessionProvider>
          <Routes />
        </SessionProvider>
      </ToastProvider>
    </Router>
  );
}

/**
 * Where `?next=` asks to go after signing in: a path of this app only. Anyone can send a link
 * with another (`//elsewhere.example`, `javascript:`); the history API refuses those with an
 * exception, which left the page blank after every sign-in on that link. The text is resolved
 * as the history API resolves it, not matched by its first characters: the URL parser drops
 * tabs and newlines and reads `\` as `/`, so `/<tab>/elsewhere.example` is `//elsewhere.example`.
 */
function pageOf(next: string | null): string {
  if (!next?.startsWith("/")) return HOME;
  try {
    const u = new URL(next, window.location.origin);
    return u.origin === window.location.origin ? `${u.pathname}${u.search}${u.hash}` : HOME;
  } catch {
    return HOME;
  }
}

/** Signed out: every page shows the sign-in form and comes back to the page asked for. */
function Routes() {
  const { state } = useSessionControl();
  const { location, navigate } = useRouter();
  const path = location.pathname;

  useEffect(() => {
    if (state.kind === "signedIn" && (path === "/" || path === "/sign-in")) {
      navigate(pageOf(location.search.get("next")), { replace: true });
    }
  }, [state.kind, path, location.search, navigate]);

  if (state.kind === "loading") return <div className="center-page"><Loading what="your session" /></div>;
  if (state.kind === "signedOut") return <SignIn reason={state.reason} />;

  let page;
  let params: Record<string, string> | null;
  if (path === HOME) page = <PublishedFlows />;
  else if (path === "/estate/flows") page = <EstateFlows />;
  else if ((params = matchPath("/estate/flows/:id", path))) page = <DeploymentDetails id={params.id!} />;
  else if (path === "/admin/people") page = <People />;
  else if (path === "/admin/members") page = <Members />;
  else if (path === "/" || path === "/sign-in") page = null;
  else page = <NotFound />;
  return <Shell>{page}</Shell>;
}
