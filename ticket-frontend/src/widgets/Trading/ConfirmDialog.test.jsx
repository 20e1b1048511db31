import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { mockApi } from "../../test/mockApi.js";
import { CONFIRM_NAME, enabledConfirm } from "../../test/dialog.js";
import TradeTicket from "./TradeTicket.jsx";

async function reviewLimitOrder(mode = "paper", onOrderPlaced = () => {}) {
  const user = userEvent.setup();
  render(<TradeTicket mode={mode} onOrderPlaced={onOrderPlaced} />);
  await user.type(screen.getByLabelText("Symbol"), "AAPL");
  await user.selectOptions(screen.getByLabelText("Side"), "buy");
  await user.selectOptions(screen.getByLabelText("Order type"), "limit");
  await user.type(screen.getByLabelText("Quantity"), "10");
  await user.type(screen.getByLabelText("Limit price"), "95.50");
  await user.click(screen.getByLabelText("Extended hours"));
  await user.click(screen.getByRole("button", { name: "Review order" }));
  return user;
}

const detail = (dialog, term) => within(dialog).getByText(term, { selector: "dt" }).nextElementSibling.textContent;

describe("the confirmation dialog", () => {
  it("test_review_when_order_valid_then_modal_dialog_shows_every_detail_cost_and_paper_mode", async () => {
    const api = mockApi();
    await reviewLimitOrder("paper");
    const dialog = screen.getByRole("dialog", { name: "Review your order" });
    expect(dialog).toHaveAttribute("aria-modal", "true");
    expect(detail(dialog, "Symbol")).toBe("AAPL");
    expect(detail(dialog, "Side")).toBe("Buy");
    expect(detail(dialog, "Order type")).toBe("Limit");
    expect(detail(dialog, "Quantity")).toBe("10 shares");
    expect(detail(dialog, "Limit price")).toBe("$95.50");
    expect(within(dialog).queryByText("Stop price")).toBeNull();
    expect(detail(dialog, "Time in force")).toBe("Day");
    expect(detail(dialog, "Extended hours")).toBe("Yes");
    expect(detail(dialog, "Estimated cost")).toMatch(/\$955\.00 at the limit price/);
    expect(within(dialog).getByText(/^PAPER/)).toBeInTheDocument();
    expect(api.callsTo("POST", "/api/orders")).toHaveLength(0);
  });

  it("test_review_when_mode_is_live_then_dialog_says_live_real_money", async () => {
    mockApi();
    await reviewLimitOrder("live");
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).getByText(/^LIVE — this order trades real money/)).toBeInTheDocument();
    expect(within(dialog).queryByText(/^PAPER/)).toBeNull();
  });

  it("test_dialog_when_opened_then_focus_moves_inside_and_tab_is_trapped", async () => {
    mockApi();
    const user = await reviewLimitOrder();
    const dialog = screen.getByRole("dialog");
    const back = within(dialog).getByRole("button", { name: "Back" });
    const confirm = await enabledConfirm(within(dialog));
    expect(back).toHaveFocus();
    await user.tab();
    expect(confirm).toHaveFocus();
    await user.tab();
    expect(back).toHaveFocus();
    await user.tab({ shift: true });
    expect(confirm).toHaveFocus();
    for (let i = 0; i < 5; i += 1) {
      await user.tab();
      expect(dialog).toContainElement(document.activeElement);
    }
  });

  it("test_dialog_when_focus_escapes_then_it_is_pulled_back", async () => {
    mockApi();
    await reviewLimitOrder();
    screen.getByLabelText("Symbol").focus();
    expect(screen.getByRole("dialog")).toContainElement(document.activeElement);
  });

  it("test_escape_when_dialog_open_then_it_closes_and_nothing_is_sent", async () => {
    const api = mockApi();
    const user = await reviewLimitOrder();
    expect(screen.getByLabelText("Symbol").closest("[inert]")).not.toBeNull();
    await user.keyboard("{Escape}");
    expect(document.querySelector("[inert]")).toBeNull();
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByRole("button", { name: "Review order" })).toHaveFocus();
    expect(screen.getByLabelText("Quantity")).toHaveValue("10");
    expect(api.callsTo("POST", "/api/orders")).toHaveLength(0);
  });

  it("test_back_when_clicked_then_dialog_closes_and_nothing_is_sent", async () => {
    const api = mockApi();
    const user = await reviewLimitOrder();
    await user.click(screen.getByRole("button", { name: "Back" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    await new Promise((r) => setTimeout(r, 50));
    expect(api.callsTo("POST", "/api/orders")).toHaveLength(0);
  });

  it("test_confirm_when_double_clicked_then_exactly_one_order_is_sent_with_the_ticket_order_id", async () => {
    let release;
    const api = mockApi({
      "POST /api/orders": (body) => new Promise((resolve) => {
        release = () => resolve({ status: 202, body: { order_id: body.order_id, status: "requested" } });
      }),
    });
    const placed = vi.fn();
    const user = await reviewLimitOrder("paper", placed);
    const previewId = api.callsTo("POST", "/api/orders/preview").at(-1)?.body.order_id;
    const confirm = await enabledConfirm();
    fireEvent.click(confirm);
    fireEvent.click(confirm);
    await user.dblClick(confirm);
    expect(api.callsTo("POST", "/api/orders")).toHaveLength(1);
    release();
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(api.callsTo("POST", "/api/orders")).toHaveLength(1);
    const sent = api.callsTo("POST", "/api/orders")[0].body;
    expect(sent).toEqual({
      symbol: "AAPL", side: "buy", type: "limit", time_in_force: "day", qty: "10", notional: null,
      limit_price: "95.50", stop_price: null, extended_hours: true, order_id: sent.order_id,
    });
    expect(sent.order_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    if (previewId) expect(sent.order_id).toBe(previewId);
    expect(placed).toHaveBeenCalledWith(sent.order_id, sent);
    expect(screen.getByRole("status")).toHaveTextContent(/Order requested/);
  });

  it("test_confirm_when_next_order_placed_then_it_has_a_new_order_id", async () => {
    const api = mockApi();
    const user = await reviewLimitOrder();
    await user.click(await enabledConfirm());
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    await user.type(screen.getByLabelText("Quantity"), "1");
    await user.type(screen.getByLabelText("Limit price"), "90");
    await user.click(screen.getByRole("button", { name: "Review order" }));
    await user.click(await enabledConfirm());
    await waitFor(() => expect(api.callsTo("POST", "/api/orders")).toHaveLength(2));
    const [first, second] = api.callsTo("POST", "/api/orders").map((c) => c.body.order_id);
    expect(second).not.toBe(first);
  });

  it("test_confirm_when_server_refuses_then_error_shown_and_retry_keeps_the_same_order_id", async () => {
    let answer = { status: 503, body: { detail: "The bus is unavailable." } };
    const api = mockApi({ "POST /api/orders": () => answer });
    const user = await reviewLimitOrder();
    await user.click(await enabledConfirm());
    expect(await screen.findByRole("alert")).toHaveTextContent("The bus is unavailable.");
    answer = { status: 202, body: { order_id: api.callsTo("POST", "/api/orders")[0].body.order_id, status: "requested" } };
    await user.click(await enabledConfirm());
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    const ids = api.callsTo("POST", "/api/orders").map((c) => c.body.order_id);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(ids[0]);
  });

  it("test_review_when_mode_unknown_then_submission_disabled", async () => {
    mockApi();
    render(<TradeTicket mode={null} />);
    expect(screen.getByRole("button", { name: "Review order" })).toBeDisabled();
    expect(screen.getByText(/Submission is disabled until the trading mode/)).toBeInTheDocument();
  });

});

const HALTED = { state: "halted", reason: "broker outage", changed_by: "operator", changed_at: "2026-11-24T15:00:00Z" };
const preview = (fields) => ({
  body: { estimated_cost: "955.00", price_basis: "limit_price", buying_power: "50000.00", buying_power_after: "49045.00", warnings: [], errors: [], approvable: true, trading_state: "active", ...fields },
});

describe("the dialog waits for the server and the trading state", () => {
  it("test_confirm_when_the_preview_is_still_pending_then_disabled_and_enabled_once_it_accepts", async () => {
    let release;
    const api = mockApi({ "POST /api/orders/preview": () => new Promise((resolve) => { release = () => resolve(preview()); }) });
    await reviewLimitOrder();
    const confirm = screen.getByRole("button", { name: "Buy 10 AAPL" });
    expect(confirm).toBeDisabled();
    expect(screen.getByTestId("confirm-why")).toHaveTextContent("Waiting for the server to check this order");
    fireEvent.click(confirm);
    expect(api.callsTo("POST", "/api/orders")).toHaveLength(0);
    await waitFor(() => expect(release).toBeTypeOf("function"));
    release();
    await waitFor(() => expect(confirm).toBeEnabled());
    expect(screen.queryByTestId("confirm-why")).toBeNull();
    expect(within(screen.getByRole("dialog")).getByText(/Checked by the server/)).toBeInTheDocument();
  });

  it("test_confirm_when_the_preview_rejects_then_reasons_listed_with_codes_and_disabled", async () => {
    const api = mockApi({
      "POST /api/orders/preview": () => preview({
        approvable: false,
        warnings: [
          { code: "ORDER_NOTIONAL_EXCEEDS_LIMIT", message: "order notional $955.00 is over the $500.00 limit" },
          { code: "INSUFFICIENT_BUYING_POWER", message: "needs $955.00, has $100.00" },
        ],
      }),
    });
    await reviewLimitOrder();
    const dialog = screen.getByRole("dialog");
    const reasons = await within(dialog).findByRole("list", { name: "Reasons" });
    const items = within(reasons).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(within(items[0]).getByText("ORDER_NOTIONAL_EXCEEDS_LIMIT").tagName).toBe("CODE");
    expect(items[1]).toHaveTextContent("INSUFFICIENT_BUYING_POWER needs $955.00, has $100.00");
    const confirm = within(dialog).getByRole("button", { name: CONFIRM_NAME });
    expect(confirm).toBeDisabled();
    expect(within(dialog).getByTestId("confirm-why")).toHaveTextContent("would refuse this order");
    fireEvent.click(confirm);
    expect(api.callsTo("POST", "/api/orders")).toHaveLength(0);
  });

  it("test_review_when_a_sell_then_proceeds_buying_power_after_sell_badge_and_sell_button", async () => {
    mockApi({ "POST /api/orders/preview": () => preview({ estimated_cost: "299.99", price_basis: "bid", buying_power_after: "50000.00" }) });
    const user = userEvent.setup();
    render(<TradeTicket mode="paper" />);
    await user.type(screen.getByLabelText("Symbol"), "AAPL");
    await user.selectOptions(screen.getByLabelText("Side"), "sell");
    await user.type(screen.getByLabelText("Quantity"), "3");
    expect(screen.getByRole("heading", { name: "Estimated proceeds" })).toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Estimated cost" })).toBeNull();
    await user.click(screen.getByRole("button", { name: "Review order" }));
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).getByTestId("dialog-side")).toHaveTextContent("SELL");
    expect(dialog).toHaveClass("dialog--sell");
    await waitFor(() => expect(detail(dialog, "Estimated proceeds")).toMatch(/\$299\.99 at the bid/));
    expect(within(dialog).queryByText("Estimated cost")).toBeNull();
    expect(detail(dialog, "Buying power after")).toBe(
      "$50,000.00 — A sale of shares you hold uses no buying power; its proceeds count once it fills.",
    );
    expect(detail(dialog, "Quantity")).toBe("3 shares");
    expect(await enabledConfirm(within(dialog))).toHaveTextContent(/^Sell 3 AAPL$/);
  });

  it("test_review_when_halted_then_disabled_with_the_reason_next_to_it", async () => {
    const api = mockApi();
    const user = userEvent.setup();
    render(<TradeTicket mode="paper" trading={HALTED} />);
    await user.type(screen.getByLabelText("Symbol"), "AAPL");
    await user.type(screen.getByLabelText("Quantity"), "1");
    const review = screen.getByRole("button", { name: "Review order" });
    expect(review).toBeDisabled();
    expect(review).toHaveAccessibleDescription(/Trading is halted \(broker outage\)/);
    await user.click(review);
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(api.callsTo("POST", "/api/orders")).toHaveLength(0);
  });

  it("test_confirm_when_a_halt_arrives_while_the_dialog_is_open_then_disabled_and_resume_enables_it", async () => {
    mockApi();
    const user = userEvent.setup();
    const { rerender } = render(<TradeTicket mode="paper" />);
    await user.type(screen.getByLabelText("Symbol"), "AAPL");
    await user.type(screen.getByLabelText("Quantity"), "10");
    await user.click(screen.getByRole("button", { name: "Review order" }));
    const confirm = await enabledConfirm();
    rerender(<TradeTicket mode="paper" trading={HALTED} />);
    expect(confirm).toBeDisabled();
    expect(screen.getByTestId("confirm-why")).toHaveTextContent("Trading is halted (broker outage)");
    rerender(<TradeTicket mode="paper" trading={{ ...HALTED, state: "active", reason: "resumed" }} />);
    expect(confirm).toBeEnabled();
  });

  it("test_ticket_when_reducing_then_it_says_only_reducing_orders_pass_and_review_stays_open", () => {
    mockApi();
    render(<TradeTicket mode="paper" trading={{ ...HALTED, state: "reducing", reason: "end of day" }} />);
    expect(screen.getByTestId("reducing-note")).toHaveTextContent("only orders that reduce a position pass");
    expect(screen.getByTestId("reducing-note")).toHaveTextContent("end of day");
    expect(screen.getByRole("button", { name: "Review order" })).toBeEnabled();
  });
});
