import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { mockApi } from "../../test/mockApi.js";
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
    const confirm = within(dialog).getByRole("button", { name: "Confirm" });
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
    const confirm = screen.getByRole("button", { name: "Confirm" });
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
    await user.click(screen.getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    await user.type(screen.getByLabelText("Quantity"), "1");
    await user.type(screen.getByLabelText("Limit price"), "90");
    await user.click(screen.getByRole("button", { name: "Review order" }));
    await user.click(screen.getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(api.callsTo("POST", "/api/orders")).toHaveLength(2));
    const [first, second] = api.callsTo("POST", "/api/orders").map((c) => c.body.order_id);
    expect(second).not.toBe(first);
  });

  it("test_confirm_when_server_refuses_then_error_shown_and_retry_keeps_the_same_order_id", async () => {
    let answer = { status: 503, body: { detail: "The bus is unavailable." } };
    const api = mockApi({ "POST /api/orders": () => answer });
    const user = await reviewLimitOrder();
    await user.click(screen.getByRole("button", { name: "Confirm" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The bus is unavailable.");
    answer = { status: 202, body: { order_id: api.callsTo("POST", "/api/orders")[0].body.order_id, status: "requested" } };
    await user.click(screen.getByRole("button", { name: "Confirm" }));
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
