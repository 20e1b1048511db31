"""``tradectl risk limits``: the risk service's limits reply as a table an operator reads at a glance.

The reply (``rpc.risk-service.limits``, ``risk_service.responders.RiskResponders.limits_report``) is plain JSON:
``limits`` (every account-wide limit, decimals as strings, and ``symbols``: the per-symbol overrides),
``trading_state``, ``approval_ttl_s``, ``signing_key_id``, and today's usage (``open_orders``,
``daily_notional_used``). A limit is shown by its name's unit: ``*_notional`` / ``*_exposure`` money to cents with
thousands separators, ``*_pct`` in percent, ``*_s`` in seconds, the rest as counts or shares. A limit the risk
service adds later shows up without a change here; ``--json`` prints the reply itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .positions import cents
from .tables import text_table

# the limit each usage figure of the reply counts against
USAGE = {"max_open_orders": "open_orders", "max_daily_notional": "daily_notional_used"}
_HEADER_KEYS = ("trading_state", "approval_ttl_s", "signing_key_id")
_KNOWN_KEYS = frozenset({"limits", *_HEADER_KEYS, *USAGE.values()})


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def number(value: Decimal) -> str:
    """A count or a quantity with thousands separators, at its own precision: ``10,000``, ``1.65``."""
    return f"{value.normalize():,f}"


def _is_money(key: str) -> bool:
    return "notional" in key or "exposure" in key


def limit_label(key: str) -> str:
    """``max_quote_age_s`` -> ``max quote age`` (the unit goes with the value)."""
    for suffix in ("_pct", "_s"):
        if key.endswith(suffix):
            key = key[: -len(suffix)]
    return key.replace("_", " ")


def limit_value(key: str, value: Any) -> str:
    """One limit's value in its unit: ``50,000.00``, ``10 %``, ``60 s``, ``10,000``."""
    amount = _decimal(value)
    if amount is None:
        return "-" if value is None else str(value)
    if key.endswith("_pct"):
        return f"{number(amount)} %"
    if key.endswith("_s"):
        return f"{number(amount)} s"
    return cents(amount) if _is_money(key) else number(amount)


def usage_cell(key: str, limit: Any, used: Any) -> str:
    """What is used of a limit, and its share of it: ``1,234.50 (0.2 %)``, ``0``; empty for a limit without usage."""
    amount = _decimal(used)
    if amount is None:
        return ""
    text = cents(amount) if _is_money(key) else number(amount)
    ceiling = _decimal(limit)
    if amount and ceiling:
        text += f" ({amount / ceiling * 100:.1f} %)"
    return text


def limits_rows(reply: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(limit, value, used) for every account-wide limit, in the reply's order."""
    limits = reply.get("limits") or {}
    return [(limit_label(key), limit_value(key, value), usage_cell(key, value, reply.get(USAGE.get(key, ""))))
            for key, value in limits.items() if key != "symbols"]


def override_lines(reply: Mapping[str, Any]) -> list[str]:
    """One line per symbol with overrides: ``AAPL  max order qty 500, price collar 3 %``."""
    symbols: Mapping[str, Mapping[str, Any]] = (reply.get("limits") or {}).get("symbols") or {}
    width = max((len(s) for s in symbols), default=0)
    return [f"  {symbol.ljust(width)}  " + ", ".join(f"{limit_label(k)} {limit_value(k, v)}" for k, v in over.items())
            for symbol, over in symbols.items()]


def limits_table(reply: Mapping[str, Any]) -> str:
    ttl = _decimal(reply.get("approval_ttl_s"))
    head = [f"trading state {str(reply.get('trading_state', '?')).upper()}",
            f"approval TTL {'-' if ttl is None else number(ttl)} s",
            f"signing key {reply.get('signing_key_id', '-')}"]
    out = ["   ".join(head), ""]
    out += text_table(("LIMIT", "VALUE", "USED"), limits_rows(reply), right={1, 2})
    overrides = override_lines(reply)
    out += ["", "per-symbol overrides:", *overrides] if overrides else ["", "per-symbol overrides: none"]
    extra = {k: v for k, v in reply.items() if k not in _KNOWN_KEYS}
    out += [f"{k.replace('_', ' ')}: {v}" for k, v in extra.items()]
    return "\n".join(out)
