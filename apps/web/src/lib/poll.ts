import { useEffect, useRef } from "react";

/**
 * Calls `fn` now and then every `ms` while the page is visible; a hidden tab stops polling and
 * catches up at once when it is shown again. A slow answer never overlaps the next call.
 */
export function usePoll(fn: () => Promise<void>, ms: number, deps: unknown[]): void {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    const tick = async () => {
      if (stopped || running) return;
      clearTimeout(timer);
      if (document.visibilityState === "visible") {
        running = true;
        try {
          await latest.current();
        } finally {
          running = false;
        }
      }
      if (!stopped) timer = setTimeout(() => void tick(), ms);
    };
    const onVisible = () => {
      if (document.visibilityState === "visible") void tick();
    };
    void tick();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [ms, ...deps]);
}
