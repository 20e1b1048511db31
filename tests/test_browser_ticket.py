"""A person at the trade ticket, in headless Chromium (Debian's, through Playwright), against the real stack as
`make up` runs it (built frontend, ticket API, risk, gateway, position-sync, alpaca-sim). Screenshots of every test
are kept in test-artifacts/browser/ (on failure too), and the stack's service logs in test-artifacts/browser/logs/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def stack():
    """One stack for the module (a person uses one running system); endpoints as written by `tradectl up`, and its
    ``home`` (for `tradectl --home`)."""
    from tradectl.testing import running_stack, stack_endpoints

    if not (ROOT / "ticket-frontend" / "dist" / "index.html").exists():
        pytest.fail("the trade ticket is not built: `make test` builds it (npm run build in ticket-frontend)")
    base = Path(tempfile.mkdtemp(prefix="tradebus-browser-"))
    try:
        with running_stack(base / "home") as (proc, _):
            yield {**stack_endpoints(base / "home"), "home": str(base / "home")}
            runner_gone = proc.poll()  # None: the stack ran to the end of the module, as it should
    finally:
        # the services' logs next to the screenshots: what a service did when a page went wrong
        if (base / "home" / "logs").is_dir():
            shutil.rmtree(ARTIFACTS / "logs", ignore_errors=True)
            shutil.copytree(base / "home" / "logs", ARTIFACTS / "logs")
        shutil.rmtree(base, ignore_errors=True)
    assert runner_gone is None, f"`tradectl up` ended during the tests (exit code {runner_gone}; -9: killed)"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, stack, request):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.goto(stack["ticket_url"])
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def set_quote(stack, symbol, bid, ask):
    req = urllib.request.Request(f"{stack['broker_url']}/admin/quotes/{symbol}", method="PUT",
                                 data=json.dumps({"bid": bid, "ask": ask}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


def api(stack, path):
    with urllib.request.urlopen(stack["ticket_url"] + path, timeout=5) as resp:
        return json.loads(resp.read())


def fill_ticket(page: Page, *, symbol="AAPL", side="buy", type_="market", qty="1", limit=None, stop=None):
    page.get_by_label("Symbol").fill(symbol)
    page.get_by_label("Side").select_option(side)
    page.get_by_label("Order type").select_option(type_)
    page.get_by_label("Quantity").fill(qty)
    if stop is not None:
        page.get_by_label("Stop price").fill(stop)
    if limit is not None:
        page.get_by_label("Limit price").fill(limit)
    page.get_by_label("Time in force").select_option("day")


def tradectl(stack, *args: str) -> None:
    """The operator's console against this stack, as an operator runs it."""
    from tradectl.testing import TRADECTL

    subprocess.run([TRADECTL, *args, "--home", stack["home"]], check=True, capture_output=True, timeout=30)


CONFIRM = re.compile(r"^(Buy|Sell) ")  # the dialog's confirm button says the order: "Buy 10 AAPL"


def review_and_confirm(page: Page) -> str:
    page.get_by_role("button", name="Review order").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("PAPER")
    confirm = dialog.get_by_role("button", name=CONFIRM)
    expect(confirm).to_be_enabled()  # once the server's preview has accepted the order
    confirm.click()
    expect(dialog).to_be_hidden()
    tracker = page.locator("article.tracker").first
    expect(tracker).to_be_visible()
    return (tracker.get_attribute("aria-label") or "").removeprefix("Order ")


def status_of(page: Page, order_id: str):
    return page.locator(f'article.tracker[aria-label="Order {order_id}"]').get_by_role("status")


# Every change of the page, as it is committed: the status each order's card and blotter row say at that moment
# (read together in one callback, so the two are seen at the same instant).
WATCH_ORDERS = """() => {
  const read = () => Array.from(document.querySelectorAll("article.tracker[data-order-id]")).map((card) => {
    const id = card.dataset.orderId;
    const row = document.querySelector(`tr[data-order-id="${id}"] [data-testid="order-status"]`);
    return { id, card: card.querySelector('[data-testid="order-status"]').textContent, row: row ? row.textContent : null };
  });
  window.__seen = [read()];
  new MutationObserver(() => window.__seen.push(read()))
    .observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
}"""


def watch_orders(page: Page) -> None:
    page.evaluate(WATCH_ORDERS)


def assert_card_and_blotter_agreed(page: Page, order_id: str) -> list[str]:
    """Every observation of the order since `watch_orders`: its card and its row said the same whenever both showed
    it, and the row did show it; returns the statuses the card went through."""
    seen = [o for snapshot in page.evaluate("() => window.__seen") for o in snapshot if o["id"] == order_id]
    both = [o for o in seen if o["row"] is not None]
    assert both, f"the blotter never showed order {order_id}"
    assert [o for o in both if o["card"] != o["row"]] == []
    return list(dict.fromkeys(o["card"].removeprefix("… ").strip() for o in seen))


AXE = ROOT / "ticket-frontend" / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN = """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => ({
  id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
}))"""


def assert_accessible(page: Page) -> None:
    """axe-core on the page as it is now (dialogs included): no serious or critical violation."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    violations = page.evaluate(AXE_RUN)
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []


def assert_rests_then_fills_after_a_quote_move(page: Page, stack, moved_to: tuple[str, str], **ticket: str) -> None:
    """Confirm 1 AAPL of the ticket's order at 187.20/187.30, see it rest, move the quote to ``moved_to``, see it fill."""
    set_quote(stack, "AAPL", "187.20", "187.30")
    fill_ticket(page, qty="1", **ticket)

    order_id = review_and_confirm(page)
    expect(status_of(page, order_id)).to_have_text(re.compile("new|accepted|submitted"), timeout=20_000)
    set_quote(stack, "AAPL", *moved_to)

    expect(status_of(page, order_id)).to_have_text(re.compile("filled"), timeout=20_000)


def test_paper_banner_when_the_ticket_opens_then_it_is_at_the_top_and_unmissable(page):
    banner = page.get_by_text("PAPER TRADING", exact=True)

    expect(banner).to_be_visible()
    box = banner.bounding_box()
    assert box is not None and box["y"] < 80


def test_market_order_when_confirmed_by_keyboard_then_it_fills_and_card_and_blotter_agree_at_every_step(page, stack):
    set_quote(stack, "AAPL", "187.20", "187.30")
    watch_orders(page)
    fill_ticket(page, type_="market", qty="2")

    page.get_by_label("Quantity").press("Enter")  # Enter in the form is Review
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Back")).to_be_focused()  # focus moved into the dialog
    expect(dialog.get_by_role("button", name="Buy 2 AAPL")).to_be_enabled()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Buy 2 AAPL")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    order_id = (page.locator("article.tracker").first.get_attribute("aria-label") or "").removeprefix("Order ")

    expect(status_of(page, order_id)).to_have_text(re.compile("✓ filled"), timeout=20_000)
    expect(page.locator(f'tr[data-order-id="{order_id}"] [data-testid="order-status"]')).to_have_text("✓ filled")
    assert api(stack, f"/api/orders/{order_id}")["status"] == "filled"
    card = page.locator(f'article.tracker[aria-label="Order {order_id}"]')
    expect(card.get_by_role("list", name="Progress").locator('li[data-state="done"]').last).to_contain_text("Filled")
    expect(card.get_by_role("list", name="Progress")).not_to_contain_text("Partially filled")  # one fill: never partial
    statuses = assert_card_and_blotter_agreed(page, order_id)
    assert statuses[0] == "requested" and statuses[-1] == "✓ filled"


def test_limit_order_when_canceled_from_the_blotter_then_asked_once_sent_once_and_its_timeline_tells_it(page, stack):
    set_quote(stack, "AAPL", "187.20", "187.30")
    cancels: list[str] = []
    page.on("request", lambda r: cancels.append(r.url) if r.method == "POST" and r.url.endswith("/cancel") else None)
    watch_orders(page)
    fill_ticket(page, type_="limit", qty="1", limit="180.00")

    order_id = review_and_confirm(page)
    expect(status_of(page, order_id)).to_have_text(re.compile("submitted"), timeout=20_000)
    row = page.locator(f'tr[data-order-id="{order_id}"]')
    row.get_by_role("button", name="Cancel").dblclick()
    question = page.get_by_role("dialog", name="Cancel this order?")
    expect(question).to_contain_text("Buy 1 AAPL · Limit $180.00")
    expect(page.get_by_role("dialog")).to_have_count(1)  # asked once, for two clicks
    expect(question.get_by_role("button", name="No, keep it")).to_be_focused()
    page.screenshot(path=str(ARTIFACTS / "cancel_asks_once.png"), full_page=True)
    assert cancels == []
    question.get_by_role("button", name="Yes, cancel it").dblclick()

    expect(status_of(page, order_id)).to_have_text(re.compile("canceled"), timeout=20_000)
    assert api(stack, f"/api/orders/{order_id}")["status"] == "canceled"
    assert len(cancels) == 1  # the double click sent one cancel
    expect(row.get_by_test_id("order-status")).to_have_text(re.compile("canceled"))
    statuses = assert_card_and_blotter_agreed(page, order_id)
    assert statuses[0] == "requested" and "canceled" in statuses[-1]

    row.locator("td").first.click()  # the row opens the order's whole timeline

    dialog = page.get_by_role("dialog")
    timeline = dialog.get_by_role("list", name="Timeline")
    # the page adds an event the moment it arrives live, the API once its read model has it: compare once both have
    # the same number of steps (within seconds), then every step
    deadline = time.monotonic() + 10
    while True:
        expected = [e["summary"] for e in api(stack, f"/api/orders/{order_id}")["timeline"]]
        if timeline.locator("li").count() == len(expected) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect(timeline.locator("li")).to_have_count(len(expected))
    for summary in expected:
        expect(timeline).to_contain_text(summary)
    expect(dialog.get_by_test_id("timeline-order-id")).to_have_text(order_id)
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    page.screenshot(path=str(ARTIFACTS / "timeline_dialog.png"), full_page=True)
    assert_accessible(page)  # with the timeline open
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(row.get_by_role("button", name=re.compile("show its timeline"))).to_be_focused()  # focus came back
    page.keyboard.press("Enter")  # and the keyboard opens it again
    expect(page.get_by_role("dialog").get_by_role("list", name="Timeline")).to_be_visible()
    page.keyboard.press("Escape")


def test_stop_order_when_the_market_crosses_the_stop_then_it_triggers_and_fills(page, stack):
    assert_rests_then_fills_after_a_quote_move(page, stack, ("190.10", "190.20"), type_="stop", stop="190.00")


def test_stop_limit_order_when_triggered_then_it_rests_as_a_limit_and_fills_at_its_price(page, stack):
    assert_rests_then_fills_after_a_quote_move(page, stack, ("189.10", "189.40"), type_="stop_limit", stop="189.00",
                                               limit="189.50")


def test_review_when_risk_would_reject_the_order_then_its_reasons_are_listed_and_confirm_is_disabled(page, stack):
    set_quote(stack, "AAPL", "187.20", "187.30")
    fill_ticket(page, type_="market", qty="400")  # $74,920: over the $50,000 per-order notional limit

    page.get_by_role("button", name="Review order").click()
    dialog = page.get_by_role("dialog")

    expect(dialog.get_by_role("list", name="Reasons")).to_contain_text("ORDER_NOTIONAL_EXCEEDS_LIMIT")
    expect(dialog.locator("code", has_text="ORDER_NOTIONAL_EXCEEDS_LIMIT")).to_be_visible()
    expect(dialog.get_by_role("button", name="Buy 400 AAPL")).to_be_disabled()
    expect(dialog.get_by_test_id("confirm-why")).to_contain_text("would refuse this order")


def test_order_when_the_market_moves_after_review_and_risk_rejects_it_then_the_person_sees_the_reason(page, stack):
    set_quote(stack, "AAPL", "187.20", "187.30")
    fill_ticket(page, type_="limit", qty="1", limit="187.00")
    page.get_by_role("button", name="Review order").click()
    confirm = page.get_by_role("dialog").get_by_role("button", name="Buy 1 AAPL")
    expect(confirm).to_be_enabled()  # accepted by the preview at this market
    try:
        set_quote(stack, "AAPL", "10.00", "10.10")  # now the limit is far above the ask: risk's price collar
        expect(page.get_by_test_id("quote-bid")).to_have_text("$10.00")  # the new quote has reached REFDATA

        watch_orders(page)
        confirm.click()
        tracker = page.locator("article.tracker").first
        order_id = (tracker.get_attribute("aria-label") or "").removeprefix("Order ")
        tracker = page.locator(f'article.tracker[aria-label="Order {order_id}"]')

        expect(tracker.get_by_label("Reasons")).to_contain_text("PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK", timeout=20_000)
        expect(tracker.get_by_role("list", name="Progress").locator('li[data-state="failed"]')).to_have_text(
            re.compile("Rejected by risk"))
        expect(status_of(page, order_id)).to_have_text("✗ rejected")
        row = page.locator(f'tr[data-order-id="{order_id}"]')
        expect(row).to_contain_text("above the ask")  # the message; the card and the timeline have its code too
        statuses = assert_card_and_blotter_agreed(page, order_id)
        assert statuses[-1] == "✗ rejected"
    finally:
        set_quote(stack, "AAPL", "187.20", "187.30")


def test_review_when_the_person_backs_out_then_nothing_is_sent(page, stack):
    # compared by id: earlier tests' orders may still move (a late status) while this one runs
    before = {o["order_id"] for o in api(stack, "/api/orders?status=all")["orders"]}
    fill_ticket(page, type_="limit", qty="3", limit="150.00")

    page.get_by_role("button", name="Review order").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("button", name="Review order").click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.wait_for_timeout(1500)

    assert {o["order_id"] for o in api(stack, "/api/orders?status=all")["orders"]} == before


def test_halt_when_the_operator_halts_then_the_page_says_so_at_once_and_confirm_is_disabled_until_resume(page, stack):
    set_quote(stack, "AAPL", "187.20", "187.30")
    state = page.get_by_test_id("trading-state")
    expect(state).to_have_attribute("data-state", "active")
    fill_ticket(page, type_="limit", qty="2", limit="180.00")
    page.get_by_role("button", name="Review order").click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Buy 2 AAPL")
    expect(confirm).to_be_enabled()

    try:
        tradectl(stack, "halt", "--reason", "browser test: broker outage")

        # within a second of the command (the halt is published before it exits): live, not at the next poll
        expect(state).to_have_attribute("data-state", "halted", timeout=1_000)
        expect(state).to_contain_text("TRADING HALTED")
        expect(state).to_contain_text("browser test: broker outage")
        expect(confirm).to_be_disabled()
        expect(dialog.get_by_test_id("confirm-why")).to_contain_text("Trading is halted (browser test: broker outage)")
        page.screenshot(path=str(ARTIFACTS / "halt_confirm_disabled.png"), full_page=True)
        dialog.get_by_role("button", name="Back").click()
        expect(page.get_by_role("button", name="Review order")).to_be_disabled()
        expect(page.locator("#ticket-disabled-why")).to_contain_text("Trading is halted")
        page.screenshot(path=str(ARTIFACTS / "halt_review_disabled.png"), full_page=True)
    finally:
        tradectl(stack, "resume", "--reason", "browser test: resumed")

    expect(state).to_have_attribute("data-state", "active", timeout=2_000)
    expect(page.get_by_role("button", name="Review order")).to_be_enabled()
    page.get_by_role("button", name="Review order").click()
    expect(page.get_by_role("dialog").get_by_role("button", name="Buy 2 AAPL")).to_be_enabled()
    page.get_by_role("dialog").get_by_role("button", name="Back").click()


def test_reducing_when_the_operator_allows_only_reductions_then_the_page_says_so(page, stack):
    try:
        tradectl(stack, "halt", "--reducing", "--reason", "browser test: end of day")
        expect(page.get_by_test_id("trading-state")).to_have_attribute("data-state", "reducing", timeout=2_000)
        expect(page.get_by_test_id("reducing-note")).to_contain_text("only orders that reduce a position pass")
        expect(page.get_by_role("button", name="Review order")).to_be_enabled()
        page.screenshot(path=str(ARTIFACTS / "reducing.png"), full_page=True)
    finally:
        tradectl(stack, "resume", "--reason", "browser test: resumed")
    expect(page.get_by_test_id("trading-state")).to_have_attribute("data-state", "active", timeout=2_000)


def test_sell_when_reviewed_then_it_shows_estimated_proceeds_and_a_sell_button(page, stack):
    set_quote(stack, "AAPL", "187.20", "187.30")
    fill_ticket(page, side="sell", type_="market", qty="3")

    expect(page.get_by_role("heading", name="Estimated proceeds")).to_be_visible()
    expect(page.get_by_role("heading", name="Estimated cost")).to_have_count(0)
    expect(page.get_by_test_id("estimated-cost")).to_have_text("$561.60")  # 3 at the bid, 187.20
    page.get_by_role("button", name="Review order").click()
    dialog = page.get_by_role("dialog")

    expect(dialog.get_by_test_id("dialog-side")).to_have_text("SELL")
    expect(dialog).to_contain_text("Estimated proceeds")
    expect(dialog).not_to_contain_text("Estimated cost")
    expect(dialog).to_contain_text("Buying power after")
    expect(dialog.get_by_role("button", name="Sell 3 AAPL")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "sell_review.png"), full_page=True)
    assert_accessible(page)  # with the review dialog open
    dialog.get_by_role("button", name="Back").click()


def test_page_when_loaded_then_every_request_succeeds_and_the_market_clock_shows(page, stack):
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # the page being left aborts its own event stream: that is no failure of the page that loads
    page.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "") else failed.append(f"{r.failure} {r.url}"))

    page.reload(wait_until="load")

    expect(page.get_by_test_id("market-clock")).to_contain_text(re.compile(r"Market (open|closed) (closes|opens) \w{3} \d\d:\d\d ET"))
    expect(page.get_by_test_id("trading-state")).to_have_attribute("data-state", "active")
    assert failed == []  # no favicon 404 either
    expect(page.get_by_test_id("account-identity")).to_have_text("Paper account at alpaca-sim (simulator)")
    account = api(stack, "/api/positions")["account"]
    for key in ("buying_power", "equity", "cash"):
        shown = dollars(account[key]) if account else "—"  # null until the gateway has read the broker's account
        expect(page.get_by_test_id(f"account-{key.replace('_', '-')}")).to_have_text(shown)
    assert_accessible(page)


def test_quote_when_the_market_moves_then_bid_ask_and_last_tick_on_the_ticket(page, stack):
    set_quote(stack, "AAPL", "187.20", "187.30")
    page.get_by_label("Symbol").fill("AAPL")
    expect(page.get_by_test_id("quote-bid")).to_have_text("$187.20")
    try:
        set_quote(stack, "AAPL", "188.40", "188.50")

        # the gateway streams the simulator's quote into REFDATA; the ticket reads it every second
        expect(page.get_by_test_id("quote-bid")).to_have_text("$188.40", timeout=5_000)
        expect(page.get_by_test_id("quote-ask")).to_have_text("$188.50")
        expect(page.locator('dd[data-tick="up"]').first).to_contain_text("(up)")
        quote = api(stack, "/api/quotes/AAPL")
        expect(page.get_by_test_id("quote-last")).to_have_text(f"${Decimal(quote['last']):,.2f}")
        expect(page.get_by_role("region", name="Quote for AAPL")).to_have_attribute("data-stale", "false")
        page.screenshot(path=str(ARTIFACTS / "quote_ticked.png"), full_page=True)
    finally:
        set_quote(stack, "AAPL", "187.20", "187.30")


def dollars(amount: str, signed: bool = False) -> str:
    """The panel's spelling of an API amount: "$1,245.30", "-$12.30"; signed: "+$5.00"."""
    value = Decimal(amount)
    sign = "-" if value < 0 else "+" if signed and value > 0 else ""
    return f"{sign}${abs(value):,.2f}"


def test_positions_when_a_buy_and_a_sell_fill_then_the_panel_shows_the_ledger_with_pnl(page, stack):
    set_quote(stack, "MSFT", "415.00", "415.10")  # MSFT: no other test here trades it
    fill_ticket(page, symbol="MSFT", type_="market", qty="3")
    buy_id = review_and_confirm(page)
    expect(status_of(page, buy_id)).to_have_text(re.compile("filled"), timeout=20_000)
    set_quote(stack, "MSFT", "420.00", "420.10")
    fill_ticket(page, symbol="MSFT", side="sell", type_="market", qty="1")
    sell_id = review_and_confirm(page)
    expect(status_of(page, sell_id)).to_have_text(re.compile("filled"), timeout=20_000)

    panel = page.locator("section.positions")
    row = panel.locator('tr[data-symbol="MSFT"]')
    expect(row.locator("td").nth(0)).to_have_text("2", timeout=20_000)  # both fills are in the ledger

    bought = Decimal(api(stack, f"/api/orders/{buy_id}")["filled_avg_price"])
    sold = Decimal(api(stack, f"/api/orders/{sell_id}")["filled_avg_price"])
    msft = next(p for p in api(stack, "/api/positions")["positions"] if p["symbol"] == "MSFT")
    assert Decimal(msft["avg_cost"]) == bought.quantize(Decimal("0.01"))  # FIFO: what is left is the buy's lot
    assert Decimal(msft["realized_pl"]) == (sold - bought).quantize(Decimal("0.01"))
    assert Decimal(msft["cost_basis"]) == (2 * bought).quantize(Decimal("0.01"))  # the 2 shares left, at the buy
    cells = row.locator("td")  # qty, avg cost, last, cost basis, market value, unrealized, realized, today's
    expect(cells.nth(1)).to_have_text(dollars(msft["avg_cost"]))
    expect(cells.nth(3)).to_have_text(dollars(msft["cost_basis"]))
    expect(cells.nth(6)).to_have_text(dollars(msft["realized_pl"], signed=True))
    assert msft["drift"] is False and row.locator(".drift-badge").count() == 0
    for figure in (cells.nth(2), cells.nth(4), cells.nth(5)):  # last, market value, unrealized: the market moves
        expect(figure).to_have_text(re.compile(r"^[+-]?\$[\d,]+\.\d{2,4}$"))
    unrealized = cells.nth(5).locator(".pnl")
    sign = (unrealized.text_content() or "")[:1]
    expect(unrealized).to_have_class(re.compile({"+": "pnl--up", "-": "pnl--down"}.get(sign, "pnl--flat")))
    expect(panel.locator("tfoot")).to_contain_text("Total")
    totals = api(stack, "/api/positions")["totals"]
    expect(panel.get_by_test_id("total-cost-basis")).to_have_text(dollars(totals["cost_basis"]))
    expect(panel.get_by_test_id("total-realized")).to_have_text(re.compile(r"\$"))
