import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
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

  /**
   * The page with a hand-driven event stream (open) and a market order placed from the ticket; GET
   * /api/orders/{id} answers `answer.order` (404 while it is null), `routes` replace other answers.
   */
  async function pageWithPlacedOrder(routes = {}) {
    const ES = installEventSource();
    const answer = { order: null };
    const api = mockApi({ "GET /api/orders/:id": () => (answer.order ? { body: answer.order } : { status: 404, body: {} }), ...routes });
    render(<App />);
    await screen.findByText("PAPER TRADING");
    act(() => ES.last.open());
    await placeMarketOrder(userEvent.setup());
    return { ES, api, answer, id: api.callsTo("POST", "/api/orders")[0].body.order_id };
  }

  const at = (second) => `2026-11-24T14:30:0${second}.000Z`;
  /** An event as /api/events sends it, and the same event as a line of the API's timeline. */
  const event = (type, orderId, second, fields = {}) => ({ event_type: type, event_id: `${type}-${orderId}-${second}`, order_id: orderId, occurred_at: at(second), ...fields });
  const line = (data, summary) => ({ event_type: data.event_type, occurred_at: data.occurred_at, summary, event: data });
  const step = (container, label) => within(within(container).getByRole("list", { name: "Progress" })).getByText(label).closest("li");

  it("test_status_when_events_arrive_then_progress_moves_requested_approved_submitted_partially_filled_filled", async () => {
    const { ES, answer, id } = await pageWithPlacedOrder();
    const tracker = await screen.findByRole("article", { name: `Order ${id}` });
    expect(within(tracker).getByRole("status")).toHaveTextContent("requested");

    const requested = event("OrderRequested", id, 0);
    const approved = event("RiskApproved", id, 1);
    const base = { order_id: id, symbol: "AAPL", side: "buy", type: "market", qty: "10", time_in_force: "day", filled_qty: "0", reject_reasons: [] };
    answer.order = { ...base, status: "approved", updated_at: at(1), timeline: [line(requested, "requested"), line(approved, "approved by risk")] };
    act(() => ES.last.emit("RiskApproved", approved));
    await waitFor(() => expect(within(tracker).getByRole("status")).toHaveTextContent("approved"));
    expect(step(tracker, "Approved")).toHaveClass("step--done");
    expect(step(tracker, "Approved")).toHaveTextContent("✓ Approved (done)"); // a word and a symbol, not colour only
    expect(step(tracker, "Submitted")).toHaveClass("step--pending");

    const submitted = event("OrderSubmitted", id, 2);
    const fill = event("FillReported", id, 3, { qty: "4", price: "100.10" });
    answer.order = { ...answer.order, status: "partially_filled", filled_qty: "4", filled_avg_price: "100.10", updated_at: at(3),
      timeline: [...answer.order.timeline, line(submitted, "submitted"), line(fill, "filled 4 @ 100.10")] };
    act(() => ES.last.emit("FillReported", fill));
    await waitFor(() => expect(within(tracker).getByRole("status")).toHaveTextContent("partially filled"));
    expect(step(tracker, "Partially filled")).toHaveClass("step--done");
    expect(within(tracker).getByText("filled 4 @ 100.10")).toBeInTheDocument();

    answer.order = { ...answer.order, status: "filled", filled_qty: "10", updated_at: at(4) };
    act(() => ES.last.emit("OrderStatusChanged", event("OrderStatusChanged", id, 4, { status: "filled" })));
    await waitFor(() => expect(within(tracker).getByRole("status")).toHaveTextContent("✓ filled"));
    expect(step(tracker, "Filled")).toHaveClass("step--done");
  });

  it("test_status_when_risk_rejects_then_reasons_shown", async () => {
    const { ES, answer, id } = await pageWithPlacedOrder();
    const rejected = event("RiskRejected", id, 1, { reasons: [{ code: "INSUFFICIENT_BUYING_POWER", message: "the order costs $1,001.00; buying power is $500.00" }] });
    answer.order = {
      order_id: id, symbol: "AAPL", side: "buy", type: "market", qty: "10", status: "rejected", filled_qty: "0", updated_at: at(1),
      reject_reasons: [{ code: "INSUFFICIENT_BUYING_POWER", message: "the order costs $1,001.00; buying power is $500.00", field: null }],
      timeline: [line(event("OrderRequested", id, 0), "requested"), line(rejected, "rejected by risk")],
    };
    act(() => ES.last.emit("RiskRejected", rejected));
    const tracker = screen.getByRole("article", { name: `Order ${id}` });
    const reasons = await within(tracker).findByRole("list", { name: "Reasons" });
    expect(reasons).toHaveTextContent("INSUFFICIENT_BUYING_POWER the order costs $1,001.00; buying power is $500.00");
    expect(step(tracker, "Rejected by risk")).toHaveClass("step--failed");
    expect(within(tracker).getAllByText("rejected by risk")).toHaveLength(1); // the live line and the API's are one
  });

  it("test_card_and_blotter_when_the_order_moves_then_they_say_the_same_at_every_step", async () => {
    let listed = [];
    const { ES, answer, id } = await pageWithPlacedOrder({ "GET /api/orders": () => ({ body: { orders: listed } }) });
    const base = { order_id: id, symbol: "AAPL", side: "buy", type: "market", qty: "10", time_in_force: "day", filled_qty: "0", reject_reasons: [], created_at: at(0) };
    const card = () => within(screen.getByRole("article", { name: `Order ${id}` })).getByTestId("order-status").textContent;
    const row = () => document.querySelector(`tr[data-order-id="${id}"] [data-testid="order-status"]`)?.textContent;

    answer.order = { ...base, status: "approved", updated_at: at(1) };
    listed = [answer.order];
    act(() => ES.last.emit("RiskApproved", event("RiskApproved", id, 1)));
    await waitFor(() => expect(row()).toBe(card()));
    expect(card()).toMatch(/approved/);

    // the detail read has the fill first; a slow list answer still says "approved": neither view goes back
    answer.order = { ...base, status: "filled", filled_qty: "10", updated_at: at(3) };
    act(() => ES.last.emit("FillReported", event("FillReported", id, 3, { qty: "10", price: "100.10" })));
    await waitFor(() => expect(card()).toMatch(/filled/));
    expect(row()).toBe(card());
    listed = [{ ...base, status: "approved", updated_at: at(1) }];
    await act(() => new Promise((resolve) => setTimeout(resolve, 600)));
    expect(row()).toBe(card());
    expect(card()).toMatch(/filled/);
  });

  it("test_reconnect_when_the_event_stream_comes_back_then_the_page_reads_the_orders_and_the_card_again", async () => {
    const { ES, api, answer, id } = await pageWithPlacedOrder();
    answer.order = { order_id: id, symbol: "AAPL", side: "buy", type: "market", qty: "10", status: "filled", filled_qty: "10", filled_avg_price: "100.10", reject_reasons: [], updated_at: at(3), timeline: [] };
    act(() => ES.last.fail()); // the fill happens while the stream is down: its events never arrive
    const before = { list: api.callsTo("GET", "/api/orders").length, card: api.callsTo("GET", `/api/orders/${id}`).length };

    act(() => ES.last.open());

    await waitFor(() => expect(api.callsTo("GET", `/api/orders/${id}`).length).toBeGreaterThan(before.card));
    expect(api.callsTo("GET", "/api/orders").length).toBeGreaterThan(before.list);
    const tracker = screen.getByRole("article", { name: `Order ${id}` });
    await waitFor(() => expect(within(tracker).getByRole("status")).toHaveTextContent("filled"));
  });

  const blotterOrders = () => ({
    body: { orders: [
      { order_id: "o-open", symbol: "MSFT", side: "buy", type: "limit", qty: "5", limit_price: "300.00", time_in_force: "gtc", status: "submitted", filled_qty: "0", created_at: at(0), updated_at: at(1) },
      { order_id: "o-done", symbol: "AAPL", side: "sell", type: "market", qty: "1", time_in_force: "day", status: "filled", filled_qty: "1", filled_avg_price: "100.00", created_at: at(0), updated_at: at(2) },
    ] },
  });
  const blotterRow = async (symbol) => (await screen.findByRole("table", { name: "Orders" })).querySelector(`tr[data-order-id="${symbol}"]`);

  it("test_blotter_when_cancel_is_confirmed_once_then_one_cancel_is_sent_and_final_orders_have_no_cancel", async () => {
    const api = mockApi({
      "GET /api/orders": blotterOrders,
      "POST /api/orders/:id/cancel": () => ({ status: 202, body: { order_id: "o-open", status: "cancel_requested" } }),
    });
    const user = userEvent.setup();
    render(<App />);
    const openRow = await blotterRow("o-open");
    const doneRow = await blotterRow("o-done");
    expect(within(doneRow).queryByRole("button", { name: "Cancel" })).toBeNull();

    await user.dblClick(within(openRow).getByRole("button", { name: "Cancel" }));
    const dialog = screen.getByRole("dialog", { name: "Cancel this order?" });
    expect(dialog).toHaveTextContent("Buy 5 MSFT · Limit $300.00");
    expect(screen.getAllByRole("dialog")).toHaveLength(1); // asked once, however many clicks
    expect(api.callsTo("POST", "/api/orders/o-open/cancel")).toHaveLength(0);
    await user.dblClick(within(dialog).getByRole("button", { name: "Yes, cancel it" }));

    expect(api.callsTo("POST", "/api/orders/o-open/cancel")).toHaveLength(1);
    expect(await within(openRow).findByText("cancel requested")).toBeInTheDocument();
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("test_blotter_when_the_broker_answers_the_cancel_with_not_cancelable_then_cancel_can_be_asked_again", async () => {
    const ES = installEventSource();
    let answered = false;
    mockApi({
      "GET /api/orders": () => {
        const { orders } = blotterOrders().body;
        return { body: { orders: [answered ? { ...orders[0], cancel_outcome: "not_cancelable", updated_at: at(5) } : orders[0]] } };
      },
      "POST /api/orders/:id/cancel": () => ({ status: 202, body: { order_id: "o-open", status: "cancel_requested" } }),
    });
    const user = userEvent.setup();
    render(<App />);
    act(() => ES.last.open());
    const row = await blotterRow("o-open");
    await user.click(within(row).getByRole("button", { name: "Cancel" }));
    await user.click(screen.getByRole("button", { name: "Yes, cancel it" }));
    expect(within(row).getByRole("button", { name: "Cancel" })).toBeDisabled();

    answered = true;
    act(() => ES.last.emit("CancelResult", event("CancelResult", "o-open", 5, { outcome: "not_cancelable" })));

    await waitFor(() => expect(within(row).getByRole("button", { name: "Cancel" })).toBeEnabled());
    expect(row).not.toHaveTextContent("cancel requested");
  });

  it("test_blotter_when_cancel_is_declined_then_nothing_is_sent_and_focus_returns_to_cancel", async () => {
    const api = mockApi({ "GET /api/orders": blotterOrders });
    const user = userEvent.setup();
    render(<App />);
    const cancel = within(await blotterRow("o-open")).getByRole("button", { name: "Cancel" });

    await user.click(cancel);
    expect(screen.getByRole("button", { name: "No, keep it" })).toHaveFocus(); // Enter now keeps the order
    await user.keyboard("{Enter}");

    expect(screen.queryByRole("dialog")).toBeNull();
    expect(cancel).toHaveFocus();
    expect(api.calls.filter((c) => c.method === "POST")).toHaveLength(0);
  });

  it("test_blotter_when_a_row_is_clicked_then_its_timeline_opens_and_esc_closes_it", async () => {
    const timeline = [
      { event_type: "OrderRequested", occurred_at: at(0), summary: "Requested by ticket: buy 5 MSFT limit @ 300.00, gtc", event: { event_id: "e1" } },
      { event_type: "RiskApproved", occurred_at: at(1), summary: "Approved by risk", event: { event_id: "e2" } },
      { event_type: "OrderSubmitted", occurred_at: at(1), summary: "Submitted to the broker (new)", event: { event_id: "e3" } },
    ];
    mockApi({
      "GET /api/orders": blotterOrders,
      "GET /api/orders/:id": (_, path) => ({ body: { ...blotterOrders().body.orders[0], order_id: path.split("/").pop(), timeline } }),
    });
    const user = userEvent.setup();
    render(<App />);
    const row = await blotterRow("o-open");

    await user.click(within(row).getByText("Limit"));
    const dialog = await screen.findByRole("dialog");
    const lines = await within(dialog).findAllByRole("listitem");
    expect(within(dialog).getByRole("list", { name: "Timeline" })).toHaveTextContent("Submitted to the broker (new)");
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(dialog).toHaveAccessibleName("Buy 5 shares MSFT · Limit $300.00");
    expect(within(dialog).getByRole("button", { name: "Close" })).toHaveFocus();

    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(within(row).getByRole("button", { name: /MSFT order at .*: show its timeline/ })).toHaveFocus();
  });

  it("test_positions_when_loaded_then_ledger_positions_and_account_shown", async () => {
    mockApi({
      "GET /api/positions": () => ({
        body: ledger({
          positions: [ledgerPosition("NVDA", { qty: "2.5", avg_cost: "120.40", market_value: "310.00" })],
          account: { buying_power: "9000.00", equity: "10000.00", cash: "9000.00", as_of: "2026-11-24T15:00:00Z" },
        }),
      }),
    });
    render(<App />);
    const panel = (await screen.findByRole("heading", { name: "Positions" })).closest("section");
    expect(await within(panel).findByText("NVDA")).toBeInTheDocument();
    expect(within(panel).getByText("2.5")).toBeInTheDocument();
    expect(within(panel).getByText("$310.00")).toBeInTheDocument();
    expect(within(panel).getByTestId("account-equity")).toHaveTextContent("$10,000.00");
    expect(await within(panel).findByTestId("account-identity")).toHaveTextContent("Paper account at alpaca-sim (simulator)");
  });

  it("test_account_when_the_broker_account_was_never_read_then_dashes_with_the_reason", async () => {
    mockApi({ "GET /api/positions": () => ({ body: ledger({ account: null }) }) });
    render(<App />);
    const buyingPower = await screen.findByTestId("account-buying-power");
    await waitFor(() => expect(buyingPower).toHaveTextContent("—"));
    expect(buyingPower.querySelector("[title]")).toHaveAttribute("title", expect.stringMatching(/has not been read yet/));
    expect(screen.getByTestId("account-as-of")).toHaveTextContent("has not been read yet"); // not in a tooltip only
  });
});
