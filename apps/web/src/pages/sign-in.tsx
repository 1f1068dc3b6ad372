import { useState, type FormEvent } from "react";
import { ApiError, errorText } from "../api/client";
import { useSessionControl } from "../lib/session";
import { TextField } from "../ui/field";

/** Sign-in with an access key; on a first start the org owner's key is in `<data>/admin.key`. */
export function SignIn({ reason }: { reason?: string | undefined }) {
  const { signIn } = useSessionControl();
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(key.trim());
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "This access key is not valid: it is unknown, expired or revoked." : errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="signin-page">
      <main className="signin-card">
        <div className="signin-brand">
          <span className="brand-mark" aria-hidden="true">
            <svg viewBox="0 0 32 32" width="40" height="40"><rect width="32" height="32" rx="8" fill="currentColor" /><path d="M9 10h14M9 16h10M9 22h6" stroke="#fff" strokeWidth="3" strokeLinecap="round" /></svg>
          </span>
          <h1>Sign in to flowplane</h1>
          <p className="muted">Run published Langflow flows as secured, versioned services.</p>
        </div>
        {reason && <p className="notice notice-warn" role="alert">{reason}</p>}
        <form onSubmit={(e) => void submit(e)} noValidate>
          <TextField
            label="Access key"
            type="password"
            name="accessKey"
            autoComplete="current-password"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            required
            error={error}
            hint={<>On a first start, use the organisation owner's key from <code>.flowplane/admin.key</code>.</>}
          />
          <button type="submit" className="button button-primary button-block" disabled={busy || key.trim() === ""}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
        <p className="signin-foot muted">Your key stays in this browser tab only and is sent as the <code>x-access-key</code> header.</p>
      </main>
    </div>
  );
}
