"""alpaca-sim: an Alpaca-compatible paper broker (Trading API v2, latest quotes/trades, trade and market-data streams).

Role: the embedded default broker of `tradectl up` and the broker of every integration test. The real
alpaca-py clients talk to it unchanged through `url_override`. It consumes HTTP/websocket requests and emits
trade updates (websocket `/stream`, optional Standard Webhooks POSTs). Security duties: when started with
--key-id/--secret-key only that pair is let in; secrets are never logged. Test control lives under /admin/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import uvicorn
import uvloop

from .app import SimSettings, create_app
from .logs import configure, log
from .persistence import StateFileError


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful shutdown (exit status -15); we exit 0 after saving state."""

    @contextlib.contextmanager
    def capture_signals(self):
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig, frame) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="alpaca-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random-walk price feed")
    parser.add_argument("--state", type=Path, default=None, help="JSON file that keeps state across restarts")
    parser.add_argument("--key-id", default=os.environ.get("ALPACA_SIM_KEY_ID"),
                        help="only this key id is let in (with --secret-key); default $ALPACA_SIM_KEY_ID")
    parser.add_argument("--secret-key", default=os.environ.get("ALPACA_SIM_SECRET_KEY"),
                        help="default $ALPACA_SIM_SECRET_KEY (keeps the secret out of the process list)")
    parser.add_argument("--rate-limit", type=int, default=200, help="requests per minute per key")
    parser.add_argument("--tick-seconds", type=float, default=0.5, help="price-feed step and matching interval")
    parser.add_argument("--market-closed", action="store_true", help="start with the market clock closed")
    parser.add_argument("--cancel-delay-ms", type=int, default=0,
                        help="keep canceled orders in pending_cancel this long (fills can still land), like Alpaca")
    parser.add_argument("--real-hours", action="store_true",
                        help="open and close with NYSE hours and holidays (New York time) instead of staying open")
    parser.add_argument("--webhook-retry-scale", type=float, default=1.0,
                        help="multiply the webhook retry schedule (0 s, 5 s, 5 min ... 24 h) by this; 0.001 for tests")
    args = parser.parse_args(argv)
    if (args.key_id is None) != (args.secret_key is None):
        parser.error("--key-id and --secret-key go together")
    if args.rate_limit < 1 or args.tick_seconds <= 0 or args.cancel_delay_ms < 0:
        parser.error("--rate-limit must be >= 1, --tick-seconds > 0 and --cancel-delay-ms >= 0")
    if not 0 < args.webhook_retry_scale <= 1:
        parser.error("--webhook-retry-scale must be > 0 and <= 1")
    return args


async def serve(args: argparse.Namespace) -> None:
    settings = SimSettings(
        seed=args.seed, state_file=args.state, key_id=args.key_id, secret_key=args.secret_key,
        rate_limit=args.rate_limit, tick_seconds=args.tick_seconds, market_open=not args.market_closed,
        real_hours=args.real_hours, cancel_delay_ms=args.cancel_delay_ms,
        webhook_retry_scale=args.webhook_retry_scale,
    )
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), log_level="warning", access_log=False, timeout_graceful_shutdown=2,
        ws_ping_interval=20, ws_ping_timeout=20,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"alpaca-sim listening on http://{host}:{port}", flush=True)
        log.info("sim_started", host=args.host, port=port, seed=args.seed,
                 state_file=str(args.state) if args.state else None, fixed_keys=args.key_id is not None)
    await task
    log.info("sim_stopped")


def main(argv: list[str] | None = None) -> int:
    configure()
    args = parse_args(argv)
    try:
        # uvloop, as uvicorn itself would pick: on the default asyncio loop every HTTP answer took ~44 ms here
        # (a Nagle / delayed-ACK stall), on uvloop under 1 ms
        uvloop.run(serve(args))
    except StateFileError as error:
        # refusing to start beats starting empty: an empty account would hide the positions the file holds
        log.error("state_file_unreadable", state_file=str(args.state), error=str(error))
        print(f"alpaca-sim: cannot read state file {args.state}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
