"""``tradectl positions`` and ``tradectl sync``: the table (money to cents, quantities at their precision), the sync's
summary and exit codes; and the commands end to end over real NATS against a stand-in position-sync-service."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import nats
import pytest

from tradebus_contracts.rpc import LedgerPosition, LedgerPositionsReply, LedgerTotals, LotView, SyncReply
from tradebus_contracts.subjects import LEDGER_POSITIONS, LEDGER_SYNC
from tradectl.positions import cents, positions_table, quantity, sync_exit_code, sync_summary

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
D = Decimal
BIN = Path(sys.executable).parent


def ledger_reply(**over) -> LedgerPositionsReply:
    aapl = LedgerPosition(symbol="AAPL", qty=D("1.650000000"), avg_cost=D("140.005"), cost_basis=D("231.008250"),
                          broker_avg_entry_price=D("140"), last=D("141.3"), market_value=D("233.145"),
                          unrealized_pl=D("2.13675"), realized_pl=D("-0.004999"), day_pl=None, drift=True,
                          lots=[LotView(lot_id="b-1-e0", opened_at=NOW, qty=D("1.65"), price=D("140.005"),
                                        cost_basis=D("231.00825"))])
    msft = LedgerPosition(symbol="MSFT", qty=D(-6), avg_cost=D(300), cost_basis=D(-1800), realized_pl=D(40))
    fields = {"positions": [aapl, msft], "as_of": NOW, "last_sync_at": NOW - timedelta(minutes=3), "last_sync_ok": True,
              "totals": LedgerTotals(cost_basis=D("-1568.99175"), realized_pl=D("39.995001"), dividends=D("25"))}
    return LedgerPositionsReply(**{**fields, **over})


def test_cents_and_quantity_when_rendered_then_money_rounds_half_up_to_cents_and_quantities_keep_their_digits():
    assert [cents(D("2.135")), cents(D("-0.004999")), cents(D("1234567.8")), cents(None)] == [
        "2.14", "-0.00", "1,234,567.80", "-"]
    assert [quantity(D("1.650000000")), quantity(D("100")), quantity(D("0.821946705")), quantity(D("-6"))] == [
        "1.65", "100", "0.821946705", "-6"]


def test_positions_table_when_two_positions_with_lots_then_one_row_each_a_lot_row_and_the_totals():
    text = positions_table(ledger_reply(), with_lots=True)
    lines = text.splitlines()

    assert lines[0].split()[:3] == ["SYMBOL", "QTY", "AVG"]
    assert lines[1].split() == ["AAPL", "1.65", "140.01", "231.01", "140.00", "141.30", "233.15", "2.14", "-0.00", "-",
                                "DRIFT"]
    assert lines[2].split() == ["2026-03-04", "b-1-e0", "1.65", "140.01", "231.01"]  # a lot: opened, id, qty, price
    assert lines[3].split() == ["MSFT", "-6", "300.00", "-1,800.00", "-", "-", "-", "-", "40.00", "-"]
    assert lines[4].split() == ["TOTAL", "-1,568.99", "-", "-", "40.00", "-"]
    assert "dividends 25.00" in lines[5] and "(ok)" in lines[5]


def sync_reply(**over) -> SyncReply:
    fields = {"ok": True, "symbols_checked": 3, "started_at": NOW, "finished_at": NOW + timedelta(seconds=31)}
    return SyncReply(**{**fields, **over})


@pytest.mark.parametrize(("reply", "code", "says"), [
    (sync_reply(), 0, "ledger and broker agree"),
    (sync_reply(mismatched=["AAPL"]), 1, "differ on this read: AAPL"),
    (sync_reply(mismatched=["AAPL"], drifts=["AAPL"]), 1, "drift (PositionDrift published): AAPL"),
    (sync_reply(ok=False, message="broker read failed: timeout"), 2, "could not conclude"),
])
def test_sync_summary_when_the_service_answers_then_the_exit_code_says_agree_differ_or_unknown(reply, code, says):
    assert sync_exit_code(reply) == code
    assert says in sync_summary(reply)


# --- end to end over NATS -------------------------------------------------------------------------------------


async def tradectl(nats_url: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(str(BIN / "tradectl"), *args, env={**os.environ, "NATS_URL": nats_url},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.integration
async def test_commands_when_position_sync_answers_then_table_json_and_sync_exit_codes(nats_url):
    requests: list[tuple[str, dict]] = []
    sync_answer = sync_reply(mismatched=["AAPL"], drifts=["AAPL"], rebuilt=True)
    nc = await nats.connect(nats_url)

    async def answer(msg) -> None:
        requests.append((msg.subject, json.loads(msg.data)))
        body = ledger_reply() if msg.subject == LEDGER_POSITIONS else sync_answer
        await msg.respond(body.model_dump_json().encode())

    await nc.subscribe(LEDGER_POSITIONS, cb=answer)
    await nc.subscribe(LEDGER_SYNC, cb=answer)
    try:
        table = await tradectl(nats_url, "positions", "--lots")
        as_json = await tradectl(nats_url, "positions", "--json")
        synced = await tradectl(nats_url, "sync", "--rebuild")
    finally:
        await nc.drain()

    assert table[0] == 0 and "AAPL" in table[1] and "b-1-e0" in table[1]
    assert as_json[0] == 0 and LedgerPositionsReply.model_validate_json(as_json[1]) == ledger_reply()
    assert synced[0] == 1 and "rebuilt from the broker's fills" in synced[1]
    assert requests == [(LEDGER_POSITIONS, {"lots": True}), (LEDGER_POSITIONS, {"lots": False}),
                        (LEDGER_SYNC, {"rebuild": True})]


@pytest.mark.integration
async def test_commands_when_position_sync_is_not_running_then_exit_2_with_a_clear_message(nats_url):
    code, _, err = await tradectl(nats_url, "sync", "--timeout", "2")

    assert code == 2 and "position-sync-service is not running" in err
