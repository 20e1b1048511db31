import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import App from "./App.jsx";
import { enabledConfirm } from "./test/dialog.js";
import { installEventSource, ledger, ledgerPosition, mockApi, status } from "./test/mockApi.js";

const banner = () => document.querySelector(".mode-banner");

describe("the mode banner", () => {
  it("test_banner_when_mode_is_paper_then_paper_trading_at_the_top", async () => {
    mockApi();
    render(<App />);
    expect(await screen.findByText("PAPER TRADING")).toBeInTheDocument();
    expect(banner()).toHaveAttribute("data-mode", "paper");
    expect(banner()).toHaveClass("mode-banner--paper");
    expect(document.querySelector(".app").firstElementChild).toBe(banner());
    expect(screen.queryByText(/LIVE TRADING/)).toBeNull();
    expect(screen.getByRole("button", { name: "Review order" })).toBeEnabled();
  });

  it("test_banner_when_mode_is_live_then_red_live_real_money", async () => {
    mockApi({ "GET /api/mode": () => ({ body: { mode: "live", broker: "alpaca" } }) });
    render(<App />);
    expect(await screen.findByText("LIVE TRADING — REAL MONEY")).toBeInTheDocument();
    expect(banner()).toHaveClass("mode-banner--live");
    expect(banner()).not.toHaveClass("mode-banner--paper");
    expect(screen.queryByText("PAPER TRADING")).toBeNull();
  });

  it.each([
    ["the API fails", () => ({ status: 500, body: { detail: "boom" } })],
    ["the API is unreachable", () => new TypeError("Failed to fetch")],
    ["the mode is not paper or live", () => ({ body: { mode: "sandbox" } })],
  ])("test_banner_when_%s_then_warning_and_submission_disabled", async (_, answer) => {
    mockApi({ "GET /api/mode": answer });
    render(<App />);
    expect(await screen.findByText(/TRADING MODE UNKNOWN/)).toBeInTheDocument();
    expect(screen.queryByText("PAPER TRADING")).toBeNull();
    expect(screen.getByRole("button", { name: "Review order" })).toBeDisabled();
  });
});

describe("the market and trading state bar", () => {
  const tradingState = () => screen.getByTestId("trading-state");

  it("test_bar_when_the_page_opens_then_market_open_with_its_close_and_trading_active", async () => {
    mockApi();
    render(<App />);
    await waitFor(() => expect(screen.getByTestId("market-clock")).toHaveTextContent("Market open closes Tue 16:00 ET"));
    expect(tradingState()).toHaveTextContent("Trading ACTIVE");
    expect(tradingState()).toHaveAttribute("data-state", "active");
    expect(banner().nextElementSibling).toHaveClass("status-bar"); // right under the mode banner
  });

  it("test_bar_when_the_market_is_closed_then_it_says_when_it_opens", async () => {
    mockApi({ "GET /api/status": () => ({ body: status({ market: { is_open: false, next_open: "2026-11-30T14:30:00Z", next_close: "2026-11-30T21:00:00Z", as_of: "2026-11-28T15:00:00Z" } }) }) });
    render(<App />);
    await waitFor(() => expect(screen.getByTestId("market-clock")).toHaveTextContent("Market closed opens Mon 09:30 ET"));
  });

  it("test_bar_when_halted_live_then_alert_with_reason_review_disabled_and_resume_enables_it", async () => {
    const ES = installEventSource();
    mockApi();
    const user = userEvent.setup();
    render(<App />);
    await waitFor(() => expect(tradingState()).toHaveAttribute("data-state", "active"));
    act(() => ES.last.open());
    await user.type(screen.getByLabelText("Symbol"), "AAPL");
    await user.type(screen.getByLabelText("Quantity"), "1");

    act(() => ES.last.emit("TradingStateChanged", { state: "halted", reason: "broker outage", changed_by: "operator", occurred_at: "2026-11-24T15:00:00Z" }));

    expect(screen.getByRole("alert")).toHaveTextContent("TRADING HALTED — no order can be sent: broker outage");
    expect(screen.getByRole("button", { name: "Review order" })).toBeDisabled();
    expect(screen.getByText(/Trading is halted \(broker outage\)/)).toBeInTheDocument();

    act(() => ES.last.emit("TradingStateChanged", { state: "active", reason: "resumed", changed_by: "operator", occurred_at: "2026-11-24T15:05:00Z" }));

    expect(tradingState()).toHaveTextContent("Trading ACTIVE");
    expect(screen.getByRole("button", { name: "Review order" })).toBeEnabled();
  });

  it("test_bar_when_the_api_cannot_confirm_the_state_then_unknown_with_why", async () => {
    mockApi({ "GET /api/status": () => ({ body: status({ trading_state: { state: null, reason: "NATS is not connected" } }) }) });
    render(<App />);
    await waitFor(() => expect(tradingState()).toHaveTextContent("Trading state unknown — NATS is not connected"));
  });
});

describe("live status, blotter and positions", () => {
  async function placeMarketOrder(user) {
    await user.type(screen.getByLabelText("Symbol"), "AAPL");
    await user.type(screen.getByLabelText("Quantity"), "10");
    await user.click(screen.getByRole("button", { name: "Review order" }));
    await user.click(await enabledConfirm());
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
  }

  it("test_status_when_events_arrive_then_progress_moves_requested_approved_submitted_partially_filled_filled", async () => {
    const ES = installEventSource();
    let order = null;
    const api = mockApi({
      "GET /api/orders/:id": (_, path) => (order ? { body: order } : { status: 404, body: { detail: "unknown order" } }),
    });
    const user = userEvent.setup();
    render(<App />);
    await screen.findByText("PAPER TRADING");
    act(() => ES.last.open());
    await placeMarketOrder(user);
    const id = api.callsTo("POST", "/api/orders")[0].body.order_id;
    const tracker = await screen.findByRole("article", { name: `Order ${id}` });
    expect(within(tracker).getByRole("status")).toHaveTextContent("requested");

    const base = { order_id: id, symbol: "AAPL", side: "buy", type: "market", qty: "10", time_in_force: "day", filled_qty: "0", reject_reasons: [] };
    order = { ...base, status: "approved", timeline: [{ event_type: "OrderRequested", occurred_at: "2026-11-24T14:30:00Z", summary: "requested" }, { event_type: "RiskApproved", occurred_at: "2026-11-24T14:30:01Z", summary: "approved by risk" }] };
    act(() => ES.last.emit("RiskApproved", { order_id: id }));
    await waitFor(() => expect(within(tracker).getByRole("status")).toHaveTextContent("approved"));
    expect(within(tracker).getByText("Approved")).toHaveClass("step--done");
    expect(within(tracker).getByText("Submitted")).toHaveClass("step--pending");

    order = { ...order, status: "partially_filled", filled_qty: "4", filled_avg_price: "100.10",
      timeline: [...order.timeline, { event_type: "OrderSubmitted", occurred_at: "2026-11-24T14:30:02Z", summary: "submitted" }, { event_type: "FillReported", occurred_at: "2026-11-24T14:30:03Z", summary: "filled 4 @ 100.10" }] };
    act(() => ES.last.emit("FillReported", { order_id: id, qty: "4", price: "100.10" }));
    await waitFor(() => expect(within(tracker).getByRole("status")).toHaveTextContent("partially filled"));
    expect(within(tracker).getByText("Partially filled")).toHaveClass("step--done");
    expect(within(tracker).getByText("filled 4 @ 100.10")).toBeInTheDocument();

    order = { ...order, status: "filled", filled_qty: "10" };
    act(() => ES.last.emit("OrderStatusChanged", { order_id: id, status: "filled" }));
    await waitFor(() => expect(within(tracker).getByRole("status")).toHaveTextContent("filled"));
    expect(within(tracker).getByText("Filled")).toHaveClass("step--done");
  });

  it("test_status_when_risk_rejects_then_reasons_shown", async () => {
    const ES = installEventSource();
    let order = null;
    const api = mockApi({ "GET /api/orders/:id": () => (order ? { body: order } : { status: 404, body: {} }) });
    const user = userEvent.setup();
    render(<App />);
    await screen.findByText("PAPER TRADING");
    await placeMarketOrder(user);
    const id = api.callsTo("POST", "/api/orders")[0].body.order_id;
    order = {
      order_id: id, symbol: "AAPL", side: "buy", type: "market", qty: "10", status: "rejected", filled_qty: "0",
      reject_reasons: [{ code: "INSUFFICIENT_BUYING_POWER", message: "the order costs $1,001.00; buying power is $500.00", field: null }],
      timeline: [{ event_type: "OrderRequested", occurred_at: "2026-11-24T14:30:00Z", summary: "requested" }, { event_type: "RiskRejected", occurred_at: "2026-11-24T14:30:01Z", summary: "rejected by risk" }],
    };
    act(() => ES.last.emit("RiskRejected", { order_id: id }));
    const tracker = screen.getByRole("article", { name: `Order ${id}` });
    expect(await within(tracker).findByText(/buying power is \$500\.00/)).toBeInTheDocument();
    expect(within(tracker).getByText("INSUFFICIENT_BUYING_POWER")).toBeInTheDocument();
    expect(within(tracker).getByText("Rejected by risk")).toHaveClass("step--failed");
  });

  it("test_blotter_when_cancel_clicked_on_open_order_then_cancel_requested_and_final_orders_have_no_cancel", async () => {
    const api = mockApi({
      "GET /api/orders": () => ({
        body: { orders: [
          { order_id: "o-open", symbol: "MSFT", side: "buy", type: "limit", qty: "5", limit_price: "300.00", time_in_force: "gtc", status: "submitted", filled_qty: "0" },
          { order_id: "o-done", symbol: "AAPL", side: "sell", type: "market", qty: "1", time_in_force: "day", status: "filled", filled_qty: "1", filled_avg_price: "100.00" },
        ] },
      }),
      "POST /api/orders/:id/cancel": () => ({ status: 202, body: { order_id: "o-open", status: "cancel_requested" } }),
    });
    const user = userEvent.setup();
    render(<App />);
    const table = await screen.findByRole("table", { name: undefined });
    const openRow = within(table).getByText("MSFT").closest("tr");
    const doneRow = within(table).getByText("AAPL").closest("tr");
    expect(within(doneRow).queryByRole("button", { name: "Cancel" })).toBeNull();
    await user.click(within(openRow).getByRole("button", { name: "Cancel" }));
    expect(api.callsTo("POST", "/api/orders/o-open/cancel")).toHaveLength(1);
    expect(await within(openRow).findByText("cancel requested")).toBeInTheDocument();
  });

  it("test_positions_when_loaded_then_ledger_positions_and_account_shown", async () => {
    mockApi({
      "GET /api/positions": () => ({
        body: ledger({
          positions: [ledgerPosition("NVDA", { qty: "2.5", avg_cost: "120.40", market_value: "310.00" })],
          account: { buying_power: "9000.00", equity: "10000.00", cash: "9000.00" },
        }),
      }),
    });
    render(<App />);
    const panel = (await screen.findByRole("heading", { name: "Positions" })).closest("section");
    expect(await within(panel).findByText("NVDA")).toBeInTheDocument();
    expect(within(panel).getByText("2.5")).toBeInTheDocument();
    expect(within(panel).getByText("$310.00")).toBeInTheDocument();
    expect(within(panel).getByText("$10,000.00")).toBeInTheDocument();
  });
});
