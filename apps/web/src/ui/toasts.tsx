import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { errorText } from "../api/client";

/** Short notices in a corner: errors stay until dismissed, successes fade after a few seconds. */
interface Toast {
  id: number;
  kind: "error" | "success" | "info";
  text: string;
}

interface Toasts {
  error: (e: unknown) => void;
  success: (text: string) => void;
  info: (text: string) => void;
}

const Ctx = createContext<Toasts | null>(null);
let nextId = 1;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<Toast[]>([]);
  const dismiss = useCallback((id: number) => setItems((xs) => xs.filter((x) => x.id !== id)), []);
  const push = useCallback((kind: Toast["kind"], text: string) => {
    const id = nextId++;
    // At most three at a time: the oldest gives way.
    setItems((xs) => [...xs.slice(-2), { id, kind, text }]);
    if (kind !== "error") setTimeout(() => dismiss(id), 5000);
  }, [dismiss]);
  const api = useMemo<Toasts>(() => ({
    error: (e) => push("error", errorText(e)),
    success: (t) => push("success", t),
    info: (t) => push("info", t),
  }), [push]);
  return (
    <Ctx.Provider value={api}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {items.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} role={t.kind === "error" ? "alert" : undefined}>
            <span>{t.text}</span>
            <button type="button" className="icon-button" aria-label="Dismiss notification" onClick={() => dismiss(t.id)}>×</button>
          </div>
        ))}
      </div>
    </Ctx.Provider>
  );
}

export function useToasts(): Toasts {
  const t = useContext(Ctx);
  if (!t) throw new Error("useToasts outside <ToastProvider>");
  return t;
}
