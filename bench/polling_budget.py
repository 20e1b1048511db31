"""Benchmark: what the order gateway costs against the account's broker request budget, at rest and with orders resting.

    .venv/bin/python bench/polling_budget.py [--window 60] [--resting 5,25]

The whole stack as `tradectl up` runs it, with its default intervals (alpaca-sim as the broker). alpaca-sim counts
every request of the Alpaca API it serves, by route (``GET /admin/requests``). Each phase clears the count, waits
--window seconds and reads it:
  * at rest: no order anywhere;
  * N resting: N limit buys at 60 % of the market (passive: risk approves them, the simulator never fills them),
    spread over five symbols, measured once every one of them is older than the gateway's fresh-order window
    (``GATEWAY_SILENT_AFTER_S``, 30 s), i.e. polled as resting.
Prints calls per minute per phase, split into the trading API (the 200/min budget) and the market-data API (counted
apart by Alpaca), and the trading calls by route. Goal (issue 11): at rest <= 20/min, and not growing with the number
of resting orders. Results are recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import uuid
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import httpx
import nats

from tradebus_contracts import OrderRequested, decode_event, encode_event, subject_for
from tradectl.testing import running_stack, stack_endpoints, wait_for_reference_data

SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "META")
PACE_S = 0.15  # between order requests: under risk's default throttle (10 approvals a second)
FRESH_FOR_S = 30.0  # GATEWAY_SILENT_AFTER_S's default: older orders are polled as resting


def is_market_data(route: str) -> bool:
    return route.split(" ", 1)[1].startswith(("/v2/stocks", "/v1beta"))


async def measure(broker_url: str, window_s: float) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=broker_url, timeout=10) as http:
        (await http.delete("/admin/requests")).raise_for_status()
        await asyncio.sleep(window_s)
        counts = (await http.get("/admin/requests")).json()["by_route"]
    per_min = 60.0 / window_s
    trading = {route: n for route, n in counts.items() if not is_market_data(route)}
    data = sum(n for route, n in counts.items() if is_market_data(route))
    return {"trading_per_min": round(sum(trading.values()) * per_min, 1), "data_per_min": round(data * per_min, 1),
            "trading_by_route_per_min": {r: round(n * per_min, 1) for r, n in sorted(trading.items())}}


async def place_resting(nats_url: str, broker_url: str, count: int) -> None:
    """``count`` passive limit buys through risk and the gateway; returns once the gateway has submitted them all."""
    async with httpx.AsyncClient(base_url=broker_url, timeout=10) as http:
        asks = {s: Decimal(str((await http.get(f"/admin/quotes/{s}")).json()["quote"]["ap"])) for s in SYMBOLS}
    submitted: set[uuid.UUID] = set()
    refused: list[str] = []
    ours: set[uuid.UUID] = set()
    all_in = asyncio.Event()

    async def on(msg) -> None:
        event = decode_event(msg.data)
        if getattr(event, "order_id", None) not in ours:
            return
        if event.event_type == "OrderSubmitted":
            submitted.add(event.order_id)
        elif event.event_type in ("RiskRejected", "SubmissionFailed"):
            refused.append(f"{event.event_type}: {getattr(event, 'message', '')}")
        if len(submitted) == count or refused:
            all_in.set()

    nc = await nats.connect(nats_url)
    try:
        for subject in ("risk.>", "orders.>"):
            await nc.subscribe(subject, cb=on)
        js = nc.jetstream()
        for i in range(count):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            order_id = uuid.uuid4()
            ours.add(order_id)
            request = OrderRequested(producer="bench", order_id=order_id, correlation_id=str(order_id),
                                     symbol=symbol, side="buy", type="limit", time_in_force="gtc", qty=Decimal(1),
                                     limit_price=(asks[symbol] * Decimal("0.6")).quantize(Decimal("0.01")))
            await js.publish(subject_for(request), encode_event(request), headers={"Nats-Msg-Id": str(request.event_id)})
            await asyncio.sleep(PACE_S)
        await asyncio.wait_for(all_in.wait(), 60)
    finally:
        await nc.drain()
    if refused:
        raise SystemExit(f"a resting order was refused: {refused[0]}")


async def run(window_s: float, resting: list[int]) -> None:
    base = Path(tempfile.mkdtemp(prefix="tradebus-bench-"))
    results: dict[str, object] = {}
    try:
        with ExitStack() as running:
            running.enter_context(running_stack(base / "home"))
            endpoints = stack_endpoints(base / "home")
            nats_url, broker_url = endpoints["nats_url"], endpoints["broker_url"]
            for symbol in SYMBOLS:
                await wait_for_reference_data(nats_url, symbol)
            await asyncio.sleep(20)  # start-up reads (assets, calendar, history) are not the steady state
            results["at rest"] = await measure(broker_url, window_s)
            print("at rest", json.dumps(results["at rest"]), flush=True)
            placed = 0
            for n in resting:
                await place_resting(nats_url, broker_url, n - placed)
                placed = n
                await asyncio.sleep(FRESH_FOR_S + 5)
                results[f"{n} resting"] = await measure(broker_url, window_s)
                print(f"{n} resting", json.dumps(results[f"{n} resting"]), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=60.0, help="seconds each phase is counted over")
    parser.add_argument("--resting", default="5,25", help="resting order counts to measure, ascending")
    args = parser.parse_args()
    asyncio.run(run(args.window, [int(n) for n in args.resting.split(",") if n]))


if __name__ == "__main__":
    main()
