"""Market Data API v2 paths for StockHistoricalDataClient: latest quotes and trades from the price feed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .errors import BrokerError
from .orders import iso
from .web import alpaca_route


def _symbols(request: Request, sim) -> list[str]:
    raw = request.query_params.get("symbols") or ""
    symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise BrokerError(400, 40010001, "missing symbols")
    return [s for s in symbols if sim.broker.assets.find(s)]


def quote_json(sim, symbol: str) -> dict:
    quote = sim.broker.feed.quote(symbol)
    return {
        "t": iso(quote.timestamp), "ax": "V", "ap": float(quote.ask), "as": 1, "bx": "V",
        "bp": float(quote.bid), "bs": 1, "c": ["R"], "z": "C",
    }


def trade_json(sim, symbol: str) -> dict:
    trade = sim.broker.feed.last_trade(symbol)
    return {
        "t": iso(trade.timestamp), "x": "V", "p": float(trade.price), "s": float(trade.size),
        "c": ["@"], "i": trade.trade_id, "z": "C",
    }


async def latest_quotes(request: Request, sim):
    return {"quotes": {s: quote_json(sim, s) for s in _symbols(request, sim)}}


async def latest_trades(request: Request, sim):
    return {"trades": {s: trade_json(sim, s) for s in _symbols(request, sim)}}


def _one_symbol(request: Request, sim) -> str:
    asset = sim.broker.assets.find(request.path_params["symbol"])
    if asset is None:
        raise BrokerError(404, 40410000, "symbol not found")
    return asset.symbol


async def latest_quote(request: Request, sim):
    symbol = _one_symbol(request, sim)
    return {"symbol": symbol, "quote": quote_json(sim, symbol)}


async def latest_trade(request: Request, sim):
    symbol = _one_symbol(request, sim)
    return {"symbol": symbol, "trade": trade_json(sim, symbol)}


ROUTES = [
    Route("/v2/stocks/quotes/latest", alpaca_route(latest_quotes), methods=["GET"]),
    Route("/v2/stocks/trades/latest", alpaca_route(latest_trades), methods=["GET"]),
    Route("/v2/stocks/{symbol}/quotes/latest", alpaca_route(latest_quote), methods=["GET"]),
    Route("/v2/stocks/{symbol}/trades/latest", alpaca_route(latest_trade), methods=["GET"]),
]
