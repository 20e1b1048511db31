"""``tradectl positions [--lots] [--json]`` and ``tradectl sync [--rebuild]``: the ledger, and a reconciliation now.

Both ask position-sync-service over core NATS (``rpc.position-sync-service.positions`` / ``.sync``, outside every
stream). The table shows money to cents (half-up, for display only: the ledger and ``--json`` keep every digit) and
quantities at their own precision.

Exit codes of ``sync`` follow ``audit verify``: 0 the ledger and the broker agree, 1 a difference was found (a
mismatch on this read, or a drift), 2 nothing could be concluded (the service did not answer, or the broker could not
be read).
"""

from __future__ import annotations

import asyncio
import sys
from decimal import ROUND_HALF_UP, Decimal
from typing import TextIO

import nats
from pydantic import BaseModel, ValidationError

from tradebus_contracts.rpc import LedgerPositionsReply, LedgerPositionsRequest, SyncReply, SyncRequest
from tradebus_contracts.subjects import LEDGER_POSITIONS, LEDGER_SYNC

from . import access
from .tables import text_table

CENT = Decimal("0.01")
SERVICE = "position-sync-service"


class NoAnswer(Exception):
    """position-sync-service did not answer, or answered an error."""


def cents(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def quantity(value: Decimal) -> str:
    """A quantity at its own precision: ``10``, ``1.65``, ``0.821946705`` (no trailing zeros, no exponent)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


COLUMNS = ("SYMBOL", "QTY", "AVG COST", "COST BASIS", "ALPACA AVG", "LAST", "MKT VALUE", "UNRLZD P&L", "RLZD P&L",
           "DAY P&L", "DRIFT")


def positions_table(reply: LedgerPositionsReply, with_lots: bool = False) -> str:
    rows: list[tuple[str, ...]] = []
    for p in reply.positions:
        rows.append((p.symbol, quantity(p.qty), cents(p.avg_cost), cents(p.cost_basis),
                     cents(p.broker_avg_entry_price), cents(p.last), cents(p.market_value), cents(p.unrealized_pl),
                     cents(p.realized_pl), cents(p.day_pl), "DRIFT" if p.drift else ""))
        if with_lots:
            rows += [(f"  {lot.opened_at:%Y-%m-%d} {lot.lot_id[:24]}", quantity(lot.qty), cents(lot.price),
                      cents(lot.cost_basis), "", "", "", "", "", "", "") for lot in p.lots]
    t = reply.totals
    rows.append(("TOTAL", "", "", cents(t.cost_basis), "", "", cents(t.market_value), cents(t.unrealized_pl),
                 cents(t.realized_pl), cents(t.day_pl), ""))
    out = text_table(COLUMNS, rows, right=range(1, len(COLUMNS)))
    sync = "never" if reply.last_sync_at is None else \
        f"{reply.last_sync_at:%Y-%m-%d %H:%M:%S} UTC ({'ok' if reply.last_sync_ok else 'FAILED: broker not read'})"
    out.append(f"dividends {cents(t.dividends)}   last sync {sync}   as of {reply.as_of:%Y-%m-%d %H:%M:%S} UTC")
    return "\n".join(out)


def sync_summary(reply: SyncReply) -> str:
    took = (reply.finished_at - reply.started_at).total_seconds()
    head = "rebuilt from the broker's fills, then " if reply.rebuilt else ""
    if not reply.ok:
        return f"{head}sync could not conclude ({took:.1f} s): {reply.message or 'the broker could not be read'}"
    lines = [f"{head}sync ok ({took:.1f} s): {reply.symbols_checked} symbol(s) compared with the broker"]
    if reply.mismatched:
        lines.append(f"  differ on this read: {', '.join(reply.mismatched)}")
    if reply.drifts:
        lines.append(f"  drift (PositionDrift published): {', '.join(reply.drifts)}")
    if not reply.mismatched and not reply.drifts:
        lines.append("  ledger and broker agree")
    return "\n".join(lines)


def sync_exit_code(reply: SyncReply) -> int:
    if not reply.ok:
        return 2
    return 1 if reply.mismatched or reply.drifts else 0


async def ask(url: str, subject: str, request: BaseModel, reply_type: type[BaseModel], timeout: float) -> BaseModel:
    nc = await access.nats_connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        try:
            answer = await nc.request(subject, request.model_dump_json().encode(), timeout=timeout)
        except nats.errors.NoRespondersError:
            raise NoAnswer(f"{SERVICE} is not running (no responder on {subject})") from None
        except nats.errors.TimeoutError:
            raise NoAnswer(f"{SERVICE} did not answer within {timeout:g} s") from None
    finally:
        await nc.close()
    try:
        return reply_type.model_validate_json(answer.data)
    except ValidationError:
        raise NoAnswer(f"{SERVICE} answered {answer.data[:300].decode(errors='replace')}") from None


def run_positions(url: str, with_lots: bool, as_json: bool, out: TextIO = sys.stdout) -> int:
    try:
        reply = asyncio.run(ask(url, LEDGER_POSITIONS, LedgerPositionsRequest(lots=with_lots), LedgerPositionsReply, 5))
    except (NoAnswer, OSError, nats.errors.Error) as exc:
        print(f"tradectl positions: {exc}", file=sys.stderr)
        return 2
    assert isinstance(reply, LedgerPositionsReply)
    print(reply.model_dump_json(indent=2) if as_json else positions_table(reply, with_lots), file=out)
    return 0


def run_sync(url: str, rebuild: bool, timeout: float, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    try:
        reply = asyncio.run(ask(url, LEDGER_SYNC, SyncRequest(rebuild=rebuild), SyncReply, timeout))
    except (NoAnswer, OSError, nats.errors.Error) as exc:
        print(f"tradectl sync: {exc}", file=sys.stderr)
        return 2
    assert isinstance(reply, SyncReply)
    print(reply.model_dump_json(indent=2) if as_json else sync_summary(reply), file=out)
    return sync_exit_code(reply)
