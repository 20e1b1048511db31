import { useEffect, useRef } from "react";

/**
 * Call `load` now and every `intervalMs` while `enabled` (and again whenever a key changes). The latest
 * `load` is always the one called, so callers need not memoise it.
 */
export function usePolling(load, intervalMs, enabled = true, keys = []) {
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (!enabled) return undefined;
    loadRef.current();
    const t = setInterval(() => loadRef.current(), intervalMs);
    return () => clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [enabled, intervalMs, ...keys]);
}
