import { act, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { OrderEventsProvider } from "../../hooks/orderEvents.jsx";
import { installEventSource, ledger, ledgerPosition, mockApi } from "../../test/mockApi.js";
import { PositionsPanel } from "./PositionsPanel.jsx";

const AAPL = ledgerPosition("AAPL", {
  qty: "150", avg_cost: "187.33", cost_basis: "28099.50", last: "190.01", market_value: "28501.50",
  unrealized_pl: "402.00", realized_pl: "-12.30", day_pl: "1234.56",
});
const TSLA = ledgerPosition("TSLA", {
  qty: "-2.5", avg_cost: "250.00", cost_basis: "-625.00", last: null, market_value: null, unrealized_pl: null,
  realized_pl: "0.00", day_pl: null, drift: true,
});
const TOTALS = { cost_basis: "27474.50", market_value: null, unrealized_pl: null, realized_pl: "-12.30", day_pl: null, dividends: "0.44" };

function renderPanel(props = {}) {
  return render(
    <OrderEventsProvider>
      <PositionsPanel {...props} />
    </OrderEventsProvider>,
  );
}

const panel = () => screen.getByRole("heading", { name: "Positions" }).closest("section");
const row = (symbol) => panel().querySelector(`tr[data-symbol="${symbol}"]`);
const cells = (tr) => [...tr.children].map((cell) => cell.textContent);

describe("the positions panel", () => {
  it("test_panel_when_the_ledger_answers_then_each_position_with_cost_price_value_and_pnl", async () => {
    mockApi({ "GET /api/positions": () => ({ body: ledger({ positions: [AAPL, TSLA], totals: TOTALS }) }) });

    renderPanel();

    const table = await screen.findByRole("table", { name: "Positions" });
    expect([...table.querySelectorAll("thead th")].map((th) => th.textContent)).toEqual([
      "Symbol", "Qty", "Avg cost", "Last", "Cost basis", "Market value", "Unrealized P&L", "Realized P&L", "Today's P&L",
    ]);
    expect(cells(row("AAPL"))).toEqual(["AAPL", "150", "$187.33", "$190.01", "$28,099.50", "$28,501.50", "+$402.00", "-$12.30", "+$1,234.56"]);
    expect(within(row("AAPL")).getByText("+$402.00")).toHaveClass("pnl--up");
    expect(within(row("AAPL")).getByText("-$12.30")).toHaveClass("pnl--down");
  });

  it("test_panel_when_a_position_has_no_price_then_dashes_not_zeroes", async () => {
    mockApi({ "GET /api/positions": () => ({ body: ledger({ positions: [AAPL, TSLA], totals: TOTALS }) }) });

    renderPanel();

    await screen.findByText("TSLA");
    expect(cells(row("TSLA"))).toEqual(["TSLAdrift", "-2.5", "$250.00", "—", "-$625.00", "—", "—", "$0.00", "—"]);
    expect(within(row("TSLA")).getAllByText("—")[2]).toHaveClass("pnl--none");
  });

  it("test_panel_when_a_position_drifts_then_only_that_row_has_the_drift_badge", async () => {
    mockApi({ "GET /api/positions": () => ({ body: ledger({ positions: [AAPL, TSLA], totals: TOTALS }) }) });

    renderPanel();

    const badge = await within(await screen.findByRole("table")).findByText("drift");
    expect(badge.closest("tr")).toBe(row("TSLA"));
    expect(badge).toHaveAttribute("title", expect.stringMatching(/ledger and the broker disagree/));
    expect(within(row("AAPL")).queryByText("drift")).toBeNull();
  });

  it("test_panel_when_loaded_then_a_totals_row_and_the_ledger_time_and_dividends", async () => {
    const totals = { ...TOTALS, market_value: "28501.50", unrealized_pl: "-1402.5", day_pl: "0" };
    mockApi({ "GET /api/positions": () => ({ body: ledger({ positions: [AAPL], totals, last_sync_at: "2026-11-24T14:59:00Z", last_sync_ok: true }) }) });

    renderPanel();

    const total = (await screen.findByRole("rowheader", { name: "Total" })).closest("tr");
    expect(total.closest("tfoot")).not.toBeNull();
    expect(cells(total)).toEqual(["Total", "$27,474.50", "$28,501.50", "-$1,402.50", "-$12.30", "$0.00"]);
    expect(screen.getByTestId("total-day").firstChild).toHaveClass("pnl--flat");
    expect(panel()).toHaveTextContent(/Ledger as of .* · synced with the broker .* · dividends \$0\.44/);
  });

  it("test_panel_when_the_ledger_is_flat_then_no_open_positions_with_todays_realized_pnl", async () => {
    mockApi({ "GET /api/positions": () => ({ body: ledger({ totals: { realized_pl: "1500.25" } }) }) });

    renderPanel();

    expect(await screen.findByText(/No open positions\./)).toHaveTextContent("No open positions. Realized P&L +$1,500.25");
    expect(screen.queryByRole("table")).toBeNull();
  });

  it("test_panel_when_position_sync_does_not_answer_then_the_reason_and_never_flat", async () => {
    mockApi({ "GET /api/positions": () => ({ status: 503, body: { detail: "positions are unavailable: position-sync-service did not answer" } }) });

    renderPanel();

    expect(await screen.findByRole("alert")).toHaveTextContent("Positions are unavailable: position-sync-service did not answer.");
    expect(screen.queryByText(/No open positions/)).toBeNull();
    expect(screen.queryByRole("table")).toBeNull();
  });

  it("test_panel_when_a_refresh_fails_after_a_ledger_then_the_last_one_kept_dimmed_and_dated", async () => {
    let answer = { body: ledger({ positions: [AAPL], totals: TOTALS }) };
    mockApi({ "GET /api/positions": () => answer });
    renderPanel({ refreshMs: 100 });
    await screen.findByText("AAPL");

    answer = { status: 503, body: { detail: "positions are unavailable: position-sync-service did not answer" } };

    expect(await screen.findByRole("alert")).toHaveTextContent(/did not answer\. Showing the ledger as of /);
    expect(panel()).toHaveClass("positions--stale");
    expect(row("AAPL")).not.toBeNull();
  });

  it("test_panel_when_fill_and_position_events_arrive_then_it_reloads_once_per_burst_and_ignores_other_events", async () => {
    const ES = installEventSource();
    const api = mockApi({ "GET /api/positions": () => ({ body: ledger({ positions: [AAPL], totals: TOTALS }) }) });
    renderPanel({ refreshMs: 60_000 });
    await screen.findByText("AAPL");
    act(() => ES.last.open());
    const loads = () => api.callsTo("GET", "/api/positions").length;
    expect(loads()).toBe(1);

    act(() => ES.last.emit("RiskApproved", { order_id: "o-1" }));
    act(() => ES.last.emit("FillReported", { order_id: "o-1", symbol: "AAPL", qty: "1", price: "190.00" }));
    act(() => ES.last.emit("PositionSnapshot", { symbol: "AAPL" }));
    await waitFor(() => expect(loads()).toBe(2));

    act(() => ES.last.emit("PositionDrift", { symbol: "AAPL" }));
    await waitFor(() => expect(loads()).toBe(3));
    act(() => ES.last.emit("OrderStatusChanged", { order_id: "o-1", status: "filled" }));
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(loads()).toBe(3);
  });

  it("test_panel_when_no_event_comes_then_it_still_polls", async () => {
    const api = mockApi({ "GET /api/positions": () => ({ body: ledger({ positions: [AAPL], totals: TOTALS }) }) });

    renderPanel({ refreshMs: 50 });

    await waitFor(() => expect(api.callsTo("GET", "/api/positions").length).toBeGreaterThanOrEqual(3));
  });
});
