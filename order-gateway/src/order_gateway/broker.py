"""The broker adapter: alpaca-py's TradingClient / StockHistoricalDataClient behind a small async interface.

alpaca-py is synchronous (requests), so every call runs in a small dedicated thread pool: the event loop never
blocks on the broker. Three things alpaca-py does by default that an exactly-once gateway must not:

* it retries every request, POSTs included, on 429 and 504 (3 times, 3 s apart) — a blind resubmit. We turn
  that off (``_retry = 0``); on an ambiguous outcome `approvals.submit_at_broker` asks by client_order_id first;
* it has no timeout (requests' default waits forever) — every call here has one;
* its order request models hold quantities and prices as floats, which round what does not fit in 16 digits and
  send ``1`` as ``1.0`` — we build the body of ``POST /v2/orders`` ourselves (`order_body`: the approved decimals as
  strings, which Alpaca accepts) and post it through the client's own ``post`` (same session, headers, timeout and
  ``_retry = 0``); we answer with ``raw_data=True`` and convert every number we read at this edge with
  ``Decimal(str(x))`` (`BrokerOrder` is an order as the rest of the gateway reads it).

Every call takes a token from the client-side rate limiter first (ratelimit.py, ``GATEWAY_RATE_LIMIT_PER_MIN``), so
a burst waits here instead of drawing 429s; callers never pace themselves. Submits, cancels and lookups by
client_order_id are urgent (they may use the reserve that polling and reference data leave); market-data calls
have a bucket of their own, as Alpaca counts them apart.

Errors are classified for the caller: `BrokerRejected` (a definitive 4xx: the order is not there),
`BrokerRateLimited` (429, with the wait the headers ask for), `BrokerUnavailable` (timeout, connection error,
5xx: the outcome is unknown and must be looked up; a ``DependencyUnavailable``, so a message whose handler it ends
waits for the broker instead of being dead-lettered).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide as AlpacaOrderSide
from alpaca.trading.enums import OrderType as AlpacaOrderType
from alpaca.trading.enums import QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetAssetsRequest, GetCalendarRequest, GetOrdersRequest

from tradebus_contracts import OrderFields, OrderSide, OrderStatus
from tradebus_contracts.decimal_types import decimal_to_str
from tradebus_runtime.faults import DependencyUnavailable

from .ratelimit import RateLimiter

T = TypeVar("T")
OPEN_ORDERS_PAGE = 500  # Alpaca's largest page of a list of orders


class BrokerError(Exception):
    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class BrokerRejected(BrokerError):
    """A definitive refusal (4xx other than 429)."""


class BrokerRateLimited(BrokerError):
    def __init__(self, message: str, *, retry_after_s: float, status: int = 429, code: int | None = None) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after_s = retry_after_s


class BrokerUnavailable(BrokerError, DependencyUnavailable):
    """Timeout, connection failure or 5xx: whether the broker acted is unknown. A dependency away: a handler it
    escapes from waits for the broker (`faults.is_transient`), it is never dead-lettered for it."""


class _TimeoutSession(requests.Session):
    """A timeout on every request, and as many kept-alive connections per host as there are worker threads.

    The environment's proxy and CA-bundle settings for ``base_url`` are read once, here: requests otherwise reads
    them — and ``~/.netrc`` — on every call (a tenth of the gateway's CPU per order in a burst). Restart the
    gateway after changing them."""

    def __init__(self, timeout_s: float, connections: int, base_url: Any) -> None:
        super().__init__()
        # requests' own per-call reading of the environment, done once for the one host this session talks to
        environment = self.merge_environment_settings(str(getattr(base_url, "value", base_url)), {}, None, None, None)
        self.proxies, self.verify = environment["proxies"], environment["verify"]
        self.trust_env = False
        self._timeout_s = timeout_s
        for prefix in ("http://", "https://"):
            self.mount(prefix, requests.adapters.HTTPAdapter(pool_connections=connections, pool_maxsize=connections))

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout_s)
        return super().request(*args, **kwargs)


def dec(value: Any) -> Decimal | None:
    """Broker numbers to Decimal at the edge (alpaca-py may hand back floats)."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """Alpaca timestamps (RFC 3339, often with nanoseconds, which Python 3.11 cannot parse) to aware datetimes."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = _FRACTION.sub(r"\1", str(value).replace("Z", "+00:00"))
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """The parts of Alpaca's order object we track, with Decimals and aware datetimes."""

    broker_order_id: str
    client_order_id: str
    status: OrderStatus
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    side: OrderSide
    updated_at: datetime | None
    submitted_at: datetime | None

    @classmethod
    def of(cls, order: dict[str, Any]) -> BrokerOrder:
        return cls(
            broker_order_id=str(order["id"]),
            client_order_id=str(order["client_order_id"]),
            status=OrderStatus(str(order["status"])),
            filled_qty=dec(order.get("filled_qty")) or Decimal(0),
            filled_avg_price=dec(order.get("filled_avg_price")),
            side=OrderSide(str(order["side"])),
            updated_at=parse_time(order.get("updated_at")),
            submitted_at=parse_time(order.get("submitted_at") or order.get("created_at")),
        )


def _classify(exc: Exception) -> BrokerError:
    if isinstance(exc, APIError):
        status = exc.status_code
        try:
            body = json.loads(str(exc))
            code, message = body.get("code"), str(body.get("message", ""))
        except (ValueError, AttributeError):
            code, message = None, str(exc)[:500]
        if status == 429:
            return BrokerRateLimited(message or "rate limited", retry_after_s=_retry_after(exc), code=code)
        if status is not None and 400 <= status < 500:
            return BrokerRejected(message, status=status, code=code)
        return BrokerUnavailable(message or f"HTTP {status}", status=status, code=code)
    return BrokerUnavailable(f"{type(exc).__name__}: {exc}"[:500])  # a timeout, a lost connection, anything else


def _retry_after(exc: APIError) -> float:
    """Seconds to wait from Alpaca's rate-limit headers (X-RateLimit-Reset is an epoch second)."""
    response = exc.response
    headers = getattr(response, "headers", {}) or {}
    if headers.get("Retry-After"):
        try:
            return max(0.0, float(headers["Retry-After"]))
        except ValueError:
            pass
    if headers.get("X-RateLimit-Reset"):
        try:
            return min(60.0, max(0.0, float(headers["X-RateLimit-Reset"]) - time.time()))
        except ValueError:
            pass
    return 1.0


class Broker:
    def __init__(self, key_id: str, secret: str, base_url: str | None, *, paper: bool, requests_per_min: int,
                 timeout_s: float = 10.0, data_url: str | None = None, workers: int = 4) -> None:
        """``workers``: broker calls at once (threads, and kept-alive connections to match)."""
        self._client = TradingClient(key_id, secret, paper=paper, raw_data=True, url_override=base_url)
        self._client._retry = 0  # never let the SDK resubmit: see the module docstring
        self._client._session = _TimeoutSession(timeout_s, workers, self._client._base_url)
        self._data = StockHistoricalDataClient(key_id, secret, raw_data=True,
                                               url_override=data_url if data_url is not None else base_url)
        self._data._retry = 0
        self._data._session = _TimeoutSession(timeout_s, workers, self._data._base_url)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="broker")
        self._limiter = RateLimiter(requests_per_min)  # the trading API's budget (submits and cancels first)
        self._data_limiter = RateLimiter(requests_per_min)  # the market-data API counts its own

    async def _call(self, fn: Callable[..., T], *args: Any, urgent: bool = False,
                    limiter: RateLimiter | None = None) -> T:
        await (limiter or self._limiter).acquire(urgent=urgent)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except Exception as exc:
            raise _classify(exc) from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- orders ----------------------------------------------------------------------------------------------
    async def submit(self, order: OrderFields, client_order_id: str) -> dict[str, Any]:
        """``POST /v2/orders`` with exactly the signed fields (`order_body`); the broker's order as it answered."""
        return await self._call(self._client.post, "/orders", order_body(order, client_order_id), urgent=True)

    async def order_by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        try:
            return await self._call(self._client.get_order_by_client_id, client_order_id, urgent=True)
        except BrokerRejected as exc:
            if exc.status == 404:
                return None
            raise

    async def order(self, broker_order_id: str) -> dict[str, Any]:
        return await self._call(self._client.get_order_by_id, broker_order_id)

    async def open_orders(self, page: int = OPEN_ORDERS_PAGE) -> list[dict[str, Any]]:
        """Every open order (`_listed`)."""
        return await self._listed(QueryOrderStatus.OPEN, None, page)

    async def orders_since(self, after: datetime, page: int = OPEN_ORDERS_PAGE) -> list[dict[str, Any]]:
        """Every order submitted after ``after``, open or closed (`_listed`): where an order that landed late and
        already filled is found."""
        return await self._listed(QueryOrderStatus.ALL, after, page)

    async def _listed(self, status: QueryOrderStatus, after: datetime | None, page: int) -> list[dict[str, Any]]:
        """One call returns at most a page (500 is Alpaca's most), newest first; the next page is asked ``until``
        the oldest submission time seen, until a page comes back short. An order beyond the first page is listed,
        not gone: the poller would otherwise look each one up by id. Ties at a page's edge are de-duplicated by id
        (or, if ``until`` excludes them, found by the poller's lookup)."""
        orders: dict[str, dict[str, Any]] = {}
        until: datetime | None = None
        while True:
            request = GetOrdersRequest(status=status, limit=page, after=after, until=until)
            batch = list(await self._call(self._client.get_orders, request))
            fresh = [o for o in batch if str(o["id"]) not in orders]
            orders.update((str(o["id"]), o) for o in fresh)
            times = [t for o in batch if (t := parse_time(o.get("submitted_at") or o.get("created_at")))]
            if len(batch) < page or not fresh or not times:
                return list(orders.values())
            until = min(times)

    async def cancel(self, broker_order_id: str) -> None:
        await self._call(self._client.cancel_order_by_id, broker_order_id, urgent=True)

    # ---- reference data ------------------------------------------------------------------------------------
    async def account(self) -> dict[str, Any]:
        return await self._call(self._client.get_account)

    async def positions(self) -> list[dict[str, Any]]:
        return list(await self._call(self._client.get_all_positions))

    async def assets(self) -> list[dict[str, Any]]:
        return list(await self._call(self._client.get_all_assets, GetAssetsRequest()))

    async def clock(self) -> dict[str, Any]:
        return await self._call(self._client.get_clock)

    async def calendar(self, start: date, end: date) -> list[dict[str, Any]]:
        return list(await self._call(self._client.get_calendar, GetCalendarRequest(start=start, end=end)))

    async def activities(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """One page of ``GET /v2/account/activities`` exactly as Alpaca sent it: alpaca-py's TradingClient has no
        call for it, so its raw ``get`` (which every TradingClient call goes through)."""
        page = await self._call(self._client.get, "/account/activities", params)
        if not isinstance(page, list):
            raise BrokerUnavailable(f"account activities: expected a list, got {type(page).__name__}")
        return page

    async def latest_quotes(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        if not symbols:
            return {}
        raw = await self._call(self._data.get_stock_latest_quote, StockLatestQuoteRequest(symbol_or_symbols=symbols),
                               limiter=self._data_limiter)
        return dict(raw.get("quotes", raw)) if isinstance(raw, dict) else {}


DECIMAL_FIELDS = ("qty", "notional", "limit_price", "stop_price")


def order_body(order: OrderFields, client_order_id: str) -> dict[str, Any]:
    """The JSON body of ``POST /v2/orders`` for exactly the signed order fields. Quantities and prices go as decimal
    strings, digit for digit as approved (``decimal_to_str``: plain notation, never a float); the names and enum
    values are alpaca-py's (its enums refuse a value Alpaca does not know)."""
    body: dict[str, Any] = {
        "symbol": order.symbol,
        "side": AlpacaOrderSide(order.side.value).value,
        "type": AlpacaOrderType(order.type.value).value,
        "time_in_force": TimeInForce(order.time_in_force.value).value,
        "client_order_id": client_order_id,
    }
    for name in DECIMAL_FIELDS:
        value = getattr(order, name)
        if value is not None:
            body[name] = decimal_to_str(value)
    if order.extended_hours:
        body["extended_hours"] = True
    return body
