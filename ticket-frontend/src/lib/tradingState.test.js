import { describe, expect, it } from "vitest";
import { confirmGate, haltedReason, newerTradingState, previewReasons, reducingNote } from "./tradingState.js";

const ACTIVE = { state: "active", reason: null, changed_by: null, changed_at: null };
const HALTED = { state: "halted", reason: "broker outage", changed_by: "operator", changed_at: "2026-11-24T15:00:00Z" };
const REDUCING = { state: "reducing", reason: "end of day", changed_by: "operator", changed_at: "2026-11-24T15:01:00Z" };
const approved = { data: { approvable: true, warnings: [], errors: [] }, fieldErrors: {}, error: null, pending: false };

describe("the trading state decides what can be sent", () => {
  it("test_halted_reason_when_halted_then_says_so_with_the_operators_reason", () => {
    expect(haltedReason(HALTED)).toBe("Trading is halted (broker outage): no order can be sent until it resumes.");
    expect(haltedReason(ACTIVE)).toBeNull();
    expect(haltedReason(REDUCING)).toBeNull();
    expect(haltedReason(null)).toBeNull();
  });

  it("test_reducing_note_when_reducing_then_only_reductions_pass_and_the_server_decides", () => {
    expect(reducingNote(REDUCING)).toMatch(/only orders that reduce a position pass; the server's check decides/);
    expect(reducingNote(HALTED)).toBeNull();
  });

  it("test_confirm_gate_when_halted_then_disabled_with_the_reason_even_if_the_preview_accepted", () => {
    expect(confirmGate({ preview: approved, trading: HALTED })).toEqual({ enabled: false, why: haltedReason(HALTED) });
  });

  it.each([
    ["pending", { ...approved, pending: true }, /Waiting for the server/],
    ["not asked yet", { data: null, fieldErrors: {}, error: null, pending: false }, /Waiting for the server/],
    ["failed", { data: null, fieldErrors: {}, error: "risk is down", pending: false }, /could not check this order: risk is down/],
    ["rejecting", { ...approved, data: { ...approved.data, approvable: false } }, /would refuse this order/],
    ["a field error", { ...approved, fieldErrors: { qty: "too many" } }, /would refuse this order/],
  ])("test_confirm_gate_when_the_preview_is_%s_then_disabled_with_why", (_, preview, why) => {
    const gate = confirmGate({ preview, trading: ACTIVE });
    expect(gate.enabled).toBe(false);
    expect(gate.why).toMatch(why);
  });

  it("test_confirm_gate_when_the_preview_accepts_then_enabled_when_active_or_reducing", () => {
    expect(confirmGate({ preview: approved, trading: ACTIVE })).toEqual({ enabled: true, why: null });
    expect(confirmGate({ preview: approved, trading: REDUCING })).toEqual({ enabled: true, why: null });
    expect(confirmGate({ preview: approved, trading: null })).toEqual({ enabled: true, why: null });
  });

  it("test_confirm_gate_when_sending_or_mode_unknown_then_disabled", () => {
    expect(confirmGate({ preview: approved, trading: ACTIVE, submitting: true }).enabled).toBe(false);
    expect(confirmGate({ preview: approved, trading: ACTIVE, canSubmit: false }).why).toMatch(/trading mode/);
  });

  it("test_preview_reasons_when_errors_and_warnings_then_one_list_errors_first", () => {
    const data = { errors: [{ field: "qty", code: "QTY_TOO_LARGE", message: "m1" }], warnings: [{ code: "TRADING_HALTED", message: "m2" }] };
    expect(previewReasons(data).map((r) => r.code)).toEqual(["QTY_TOO_LARGE", "TRADING_HALTED"]);
    expect(previewReasons(null)).toEqual([]);
  });

  it("test_newer_trading_state_when_an_older_poll_answers_after_a_live_event_then_the_event_stays", () => {
    const older = { ...HALTED, changed_at: "2026-11-24T14:00:00Z" };
    expect(newerTradingState(HALTED, older)).toBe(HALTED);
    expect(newerTradingState(HALTED, REDUCING)).toBe(REDUCING);
    expect(newerTradingState(HALTED, ACTIVE)).toBe(HALTED); // "never set" cannot undo a change seen live
    expect(newerTradingState(ACTIVE, HALTED)).toBe(HALTED);
    expect(newerTradingState(null, ACTIVE)).toBe(ACTIVE);
    const unknown = { state: null, reason: "NATS is not connected", changed_by: null, changed_at: null };
    expect(newerTradingState(HALTED, unknown)).toBe(unknown);
    expect(newerTradingState(HALTED, null)).toBe(HALTED);
  });
});
