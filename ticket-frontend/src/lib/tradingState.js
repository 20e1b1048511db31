// What the trading state and the server's preview allow the person to do, as pure functions: the kill switch
// (the last TradingStateChanged, from /api/status and live from /api/events) and risk's preview decide; the page
// only explains. HALTED stops Review and Confirm; REDUCING lets the preview decide which orders reduce a position.
import { TradingState } from "./vocabulary.generated.js";

/** Why nothing can be sent while trading is halted, or null when it is not halted. */
export function haltedReason(trading) {
  if (trading?.state !== TradingState.HALTED) return null;
  return `Trading is halted${trading.reason ? ` (${trading.reason})` : ""}: no order can be sent until it resumes.`;
}

/** What REDUCING means for this ticket, or null in any other state. */
export function reducingNote(trading) {
  if (trading?.state !== TradingState.REDUCING) return null;
  return `Trading is reducing${trading.reason ? ` (${trading.reason})` : ""}: only orders that reduce a position pass; the server's check decides.`;
}

/**
 * Whether Confirm may be pressed: `{enabled, why}`. Only for an order the server has checked and would accept
 * (`approvable`), never while that check is on its way, never while halted or while the order is being sent.
 */
export function confirmGate({ preview, trading, submitting = false, canSubmit = true }) {
  if (!canSubmit) return { enabled: false, why: "Submission is disabled until the trading mode (paper or live) is known." };
  const halted = haltedReason(trading);
  if (halted) return { enabled: false, why: halted };
  if (submitting) return { enabled: false, why: null };
  const data = preview?.data;
  if (preview?.pending || (!data && !preview?.error)) return { enabled: false, why: "Waiting for the server to check this order…" };
  if (!data) return { enabled: false, why: `The server could not check this order: ${preview.error}` };
  if (!data.approvable || Object.keys(preview.fieldErrors ?? {}).length > 0) {
    return { enabled: false, why: "The server would refuse this order as it stands: see the reasons above." };
  }
  return { enabled: true, why: null };
}

/** Every reason the preview gives (`errors` first, then `warnings`), each `{code, message, field?}`. */
export function previewReasons(data) {
  return [...(data?.errors ?? []), ...(data?.warnings ?? [])];
}

/**
 * The newer of two trading states `{state, reason, changed_by, changed_at}`: a poll answered after a live event
 * but read before it must not put an older state back. A state that is not known (`state` null) always wins.
 */
export function newerTradingState(current, incoming) {
  if (!incoming) return current;
  if (!current || incoming.state === null || current.state === null) return incoming;
  if (!current.changed_at) return incoming;
  if (!incoming.changed_at) return current;
  return new Date(incoming.changed_at) < new Date(current.changed_at) ? current : incoming;
}

/** A TradingStateChanged event from /api/events as the state /api/status gives. */
export const tradingStateFromEvent = (event) => ({
  state: event.state,
  reason: event.reason ?? null,
  changed_by: event.changed_by ?? null,
  changed_at: event.occurred_at ?? null,
});
