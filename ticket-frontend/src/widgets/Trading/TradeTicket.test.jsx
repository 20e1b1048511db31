import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { QUOTE_REFRESH_MS } from "../../hooks/useQuote.js";
import { QUOTE, mockApi } from "../../test/mockApi.js";
import TradeTicket from "./TradeTicket.jsx";

function renderTicket(props = {}) {
  const user = userEvent.setup();
  render(<TradeTicket mode="paper" {...props} />);
  return user;
}

async function fillOrder(user, { symbol = "AAPL", side = "buy", type = "market", qty, notional, limit, stop } = {}) {
  await user.type(screen.getByLabelText("Symbol"), symbol);
  await user.selectOptions(screen.getByLabelText("Side"), side);
  if (notional !== undefined) {
    await user.click(screen.getByRole("radio", { name: "Dollars" }));
    await user.type(screen.getByLabelText("Notional"), notional);
  }
  await user.selectOptions(screen.getByLabelText("Order type"), type);
  if (qty !== undefined) await user.type(screen.getByLabelText("Quantity"), qty);
  if (limit !== undefined) await user.type(screen.getByLabelText("Limit price"), limit);
  if (stop !== undefined) await user.type(screen.getByLabelText("Stop price"), stop);
}

const estimate = () => screen.getByTestId("estimated-cost").textContent;

describe("the ticket's fields", () => {
  beforeEach(() => mockApi());

  it("test_labels_when_ticket_opens_then_every_control_is_named_by_its_fixed_label", () => {
    renderTicket();
    for (const label of ["Symbol", "Side", "Order type", "Quantity", "Time in force", "Extended hours"]) {
      expect(screen.getByLabelText(label)).toBeInTheDocument();
    }
    expect(screen.getByRole("button", { name: "Review order" })).toBeEnabled();
  });

  it.each([
    ["market", false, false],
    ["limit", true, false],
    ["stop", false, true],
    ["stop_limit", true, true],
  ])("test_price_fields_when_type_is_%s_then_limit_%s_stop_%s", async (type, limit, stop) => {
    const user = renderTicket();
    await user.selectOptions(screen.getByLabelText("Order type"), type);
    expect(screen.queryByLabelText("Limit price") !== null).toBe(limit);
    expect(screen.queryByLabelText("Stop price") !== null).toBe(stop);
  });

  it("test_amount_toggle_when_dollars_chosen_then_notional_replaces_quantity", async () => {
    const user = renderTicket();
    await user.click(screen.getByRole("radio", { name: "Dollars" }));
    expect(screen.getByLabelText("Notional")).toBeInTheDocument();
    expect(screen.queryByLabelText("Quantity")).toBeNull();
  });

  it("test_live_quote_when_symbol_typed_then_bid_ask_last_shown", async () => {
    const user = renderTicket();
    await user.type(screen.getByLabelText("Symbol"), "aapl");
    expect(screen.getByLabelText("Symbol")).toHaveValue("AAPL");
    expect(await screen.findByTestId("quote-bid")).toHaveTextContent("$100.00");
    expect(screen.getByTestId("quote-ask")).toHaveTextContent("$100.10");
    expect(screen.getByTestId("quote-last")).toHaveTextContent("$100.05");
    expect(screen.queryByText("STALE")).toBeNull();
  });

  it("test_live_quote_when_the_quote_changes_then_it_ticks_within_a_read_with_its_direction_in_words", async () => {
    let bid = "100.00";
    mockApi({ "GET /api/quotes/AAPL": () => ({ body: { ...QUOTE, bid, timestamp: `2026-11-24T14:30:0${bid === "100.00" ? 0 : 1}Z` } }) });
    const user = renderTicket();
    await user.type(screen.getByLabelText("Symbol"), "AAPL");
    expect(await screen.findByTestId("quote-bid")).toHaveTextContent("$100.00");

    bid = "99.95";

    await waitFor(() => expect(screen.getByTestId("quote-bid")).toHaveTextContent("$99.95"), { timeout: QUOTE_REFRESH_MS * 3 });
    expect(screen.getByTestId("quote-bid").closest("dd")).toHaveTextContent("$99.95 ▼ (down)");
    expect(screen.getByTestId("quote-ask").closest("dd")).toHaveTextContent(/^\$100\.10$/);
  });

  it("test_live_quote_when_a_refresh_fails_then_the_last_quote_stays_marked_stale", async () => {
    let down = false;
    mockApi({ "GET /api/quotes/AAPL": () => (down ? { status: 503, body: { detail: "NATS away" } } : { body: QUOTE }) });
    const user = renderTicket();
    await user.type(screen.getByLabelText("Symbol"), "AAPL");
    expect(await screen.findByTestId("quote-bid")).toHaveTextContent("$100.00");

    down = true;

    expect(await screen.findByText("STALE", {}, { timeout: QUOTE_REFRESH_MS * 3 })).toBeInTheDocument();
    expect(screen.getByTestId("quote-bid")).toHaveTextContent("$100.00");
    expect(screen.getByRole("region", { name: "Quote for AAPL" })).toHaveTextContent("The quote could not be refreshed.");
  });

  it("test_live_quote_when_server_marks_it_stale_then_stale_marker_shown", async () => {
    mockApi({ "GET /api/quotes/AAPL": () => ({ body: { symbol: "AAPL", bid: "1.00", ask: "1.01", last: "1.00", timestamp: "2026-11-24T14:00:00Z", stale: true } }) });
    const user = renderTicket();
    await user.type(screen.getByLabelText("Symbol"), "AAPL");
    expect(await screen.findByText("STALE")).toBeInTheDocument();
  });
});

describe("time in force and extended hours follow the rules", () => {
  beforeEach(() => mockApi());

  const tifOption = (value) => within(screen.getByLabelText("Time in force")).getByRole("option", { name: new RegExp(`\\(${value}\\)`) });

  it("test_tif_when_quantity_is_fractional_then_only_day_allowed", async () => {
    const user = renderTicket();
    await user.type(screen.getByLabelText("Quantity"), "10");
    await user.selectOptions(screen.getByLabelText("Time in force"), "gtc");
    expect(screen.getByLabelText("Time in force")).toHaveValue("gtc");

    await user.clear(screen.getByLabelText("Quantity"));
    await user.type(screen.getByLabelText("Quantity"), "0.5");
    expect(screen.getByLabelText("Time in force")).toHaveValue("day");
    for (const tif of ["gtc", "opg", "cls", "ioc", "fok"]) expect(tifOption(tif)).toBeDisabled();
    expect(screen.getByText("Fractional quantities are day orders only.")).toBeInTheDocument();
  });

  it("test_tif_when_quantity_is_whole_then_every_tif_allowed", async () => {
    const user = renderTicket();
    await user.type(screen.getByLabelText("Quantity"), "3");
    for (const tif of ["gtc", "opg", "cls", "ioc", "fok"]) expect(tifOption(tif)).toBeEnabled();
  });

  it("test_tif_and_type_when_notional_then_market_day_only", async () => {
    const user = renderTicket();
    await user.selectOptions(screen.getByLabelText("Order type"), "limit");
    await user.click(screen.getByRole("radio", { name: "Dollars" }));
    expect(screen.getByLabelText("Order type")).toHaveValue("market");
    expect(within(screen.getByLabelText("Order type")).getByRole("option", { name: "Limit" })).toBeDisabled();
    expect(screen.getByLabelText("Time in force")).toHaveValue("day");
    expect(tifOption("gtc")).toBeDisabled();
    expect(screen.getByText("Notional orders are day orders only.")).toBeInTheDocument();
  });

  it("test_extended_hours_when_not_limit_day_then_disabled_and_explained", async () => {
    const user = renderTicket();
    expect(screen.getByLabelText("Extended hours")).toBeDisabled();
    expect(screen.getByLabelText("Extended hours")).toHaveAccessibleDescription(/Limit order with time in force Day/);

    await user.selectOptions(screen.getByLabelText("Order type"), "limit");
    expect(screen.getByLabelText("Extended hours")).toBeEnabled();
    await user.click(screen.getByLabelText("Extended hours"));
    expect(screen.getByLabelText("Extended hours")).toBeChecked();

    await user.type(screen.getByLabelText("Quantity"), "5");
    await user.selectOptions(screen.getByLabelText("Time in force"), "gtc");
    expect(screen.getByLabelText("Extended hours")).toBeDisabled();
    expect(screen.getByLabelText("Extended hours")).not.toBeChecked();
  });
});

describe("validation messages next to their fields", () => {
  beforeEach(() => mockApi());

  it.each([
    ["Quantity", "abc", "Quantity must be a number of shares, like 10 or 0.5."],
    ["Quantity", "0", "Quantity must be greater than 0."],
    ["Quantity", "0.0005", "A fractional quantity must be at least 0.001 shares."],
    ["Quantity", "1.0000000001", "Quantity can have at most 9 decimal places."],
    ["Symbol", "1AB", "Symbol must be a ticker like AAPL or BRK.B."],
  ])("test_%s_when_%s_then_message", async (label, value, message) => {
    const user = renderTicket();
    await user.type(screen.getByLabelText(label), value);
    const input = screen.getByLabelText(label);
    await waitFor(() => expect(input).toHaveAccessibleDescription(expect.stringContaining(message)));
    expect(input).toBeInvalid();
  });

  it.each([
    ["0.5", "Notional must be at least $1."],
    ["10.123", "Notional can have at most 2 decimal places (cents)."],
  ])("test_notional_when_%s_then_message", async (value, message) => {
    const user = renderTicket();
    await user.click(screen.getByRole("radio", { name: "Dollars" }));
    await user.type(screen.getByLabelText("Notional"), value);
    expect(await screen.findByText(message)).toBeInTheDocument();
  });

  it.each([
    ["Limit price", "limit", "10.123", "Limit price of $1 or more can have at most 2 decimal places."],
    ["Limit price", "limit", "0.12345", "Limit price below $1 can have at most 4 decimal places."],
    ["Stop price", "stop", "0", "Stop price must be greater than $0."],
    ["Stop price", "stop_limit", "x", "Stop price must be a number, like 123.45."],
  ])("test_%s_when_%s_order_has_%s_then_message", async (label, type, value, message) => {
    const user = renderTicket();
    await user.selectOptions(screen.getByLabelText("Order type"), type);
    await user.type(screen.getByLabelText(label), value);
    expect(await screen.findByText(message)).toBeInTheDocument();
  });

  it("test_review_when_form_is_empty_then_required_fields_named_and_focus_moves_to_first", async () => {
    const api = mockApi();
    const user = renderTicket();
    await user.selectOptions(screen.getByLabelText("Order type"), "stop_limit");
    await user.click(screen.getByRole("button", { name: "Review order" }));
    expect(screen.getByText("Enter a symbol.")).toBeInTheDocument();
    expect(screen.getByText("Enter a quantity in shares.")).toBeInTheDocument();
    expect(screen.getByText("Enter a limit price.")).toBeInTheDocument();
    expect(screen.getByText("Enter a stop price.")).toBeInTheDocument();
    expect(screen.getByLabelText("Symbol")).toHaveFocus();
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(api.callsTo("POST", "/api/orders/preview")).toHaveLength(0);
  });

  it("test_preview_when_server_reports_field_error_then_message_next_to_field", async () => {
    mockApi({
      "POST /api/orders/preview": () => ({
        body: {
          estimated_cost: "50.05", price_basis: "ask", buying_power: "50000.00", buying_power_after: "49949.95", warnings: [],
          errors: [{ field: "qty", code: "ASSET_NOT_FRACTIONABLE", message: "AAPL cannot be traded in fractions." }], approvable: false,
        },
      }),
    });
    const user = renderTicket();
    await fillOrder(user, { qty: "0.5" });
    await waitFor(() => expect(screen.getByLabelText("Quantity")).toHaveAccessibleDescription(expect.stringContaining("AAPL cannot be traded in fractions.")));
    await user.click(screen.getByRole("button", { name: "Review order" }));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("test_preview_when_server_answers_422_then_field_message_shown", async () => {
    mockApi({
      "POST /api/orders/preview": () => ({ status: 422, body: { detail: [{ loc: ["body", "limit_price"], msg: "limit_price is too far from the market" }] } }),
    });
    const user = renderTicket();
    await fillOrder(user, { type: "limit", qty: "1", limit: "10" });
    expect(await screen.findByText("limit_price is too far from the market")).toBeInTheDocument();
  });
});

describe("estimated cost before submission", () => {
  beforeEach(() => mockApi());

  it.each([
    [{ side: "buy", type: "market", qty: "10" }, "$1,001.00", "at the ask"],
    [{ side: "sell", type: "market", qty: "10" }, "$1,000.00", "at the bid"],
    [{ side: "buy", type: "limit", qty: "10", limit: "95.50" }, "$955.00", "at the limit price"],
    [{ side: "sell", type: "limit", qty: "2", limit: "101" }, "$202.00", "at the limit price"],
    [{ side: "buy", type: "stop", qty: "10", stop: "105" }, "$1,050.00", "at the stop price"],
    [{ side: "sell", type: "stop_limit", qty: "4", stop: "99", limit: "98.50" }, "$394.00", "at the limit price"],
    [{ side: "buy", type: "market", qty: "0.001" }, "$0.10", "at the ask"],
    [{ side: "buy", type: "market", notional: "250" }, "$250.00", "the notional amount"],
  ])("test_estimate_when_%o_then_%s_%s", async (order, cost, basis) => {
    const user = renderTicket();
    await fillOrder(user, order);
    await waitFor(() => expect(estimate()).toBe(cost));
    expect(screen.getByTestId("price-basis")).toHaveTextContent(basis);
  });

  it("test_estimate_when_server_preview_answers_then_it_replaces_client_estimate_with_buying_power_and_warnings", async () => {
    const api = mockApi({
      "POST /api/orders/preview": () => ({
        body: {
          estimated_cost: "1002.50", price_basis: "ask", buying_power: "1500.00", buying_power_after: "497.50",
          warnings: [{ code: "QUOTE_STALE", message: "The quote is 40 s old." }], errors: [], approvable: true,
        },
      }),
    });
    const user = renderTicket();
    await fillOrder(user, { qty: "10" });
    await waitFor(() => expect(estimate()).toBe("$1,002.50"));
    expect(screen.getByTestId("buying-power-after")).toHaveTextContent("$497.50");
    expect(screen.getByText(/The quote is 40 s old\./)).toBeInTheDocument();
    const body = api.callsTo("POST", "/api/orders/preview").at(-1).body;
    expect(body).toMatchObject({ symbol: "AAPL", side: "buy", type: "market", time_in_force: "day", qty: "10", notional: null, limit_price: null, stop_price: null, extended_hours: false });
    expect(body.order_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("test_preview_when_person_types_then_server_asked_once_after_pause", async () => {
    const api = mockApi();
    const user = renderTicket();
    await user.type(screen.getByLabelText("Symbol"), "AAPL");
    await user.type(screen.getByLabelText("Quantity"), "12345");
    await waitFor(() => expect(api.callsTo("POST", "/api/orders/preview").length).toBeGreaterThan(0));
    expect(api.callsTo("POST", "/api/orders/preview").map((c) => c.body.qty)).toEqual(["12345"]);
  });
});
