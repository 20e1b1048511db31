import { useEffect, useState } from "react";
import { getMode } from "../api.js";

/**
 * The trading mode from /api/mode: `{status: "loading"|"ok"|"error", mode, broker}`. Anything but a clean
 * "paper" or "live" is an error: the ticket must never guess which money it is trading.
 */
export function useMode() {
  const [state, setState] = useState({ status: "loading", mode: null, broker: null });
  useEffect(() => {
    let alive = true;
    getMode()
      .then((data) => {
        if (!alive) return;
        const mode = data?.mode;
        if (mode === "paper" || mode === "live") setState({ status: "ok", mode, broker: data.broker ?? null });
        else setState({ status: "error", mode: null, broker: null });
      })
      .catch(() => alive && setState({ status: "error", mode: null, broker: null }));
    return () => {
      alive = false;
    };
  }, []);
  return state;
}
