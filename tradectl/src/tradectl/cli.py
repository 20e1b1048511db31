"""tradectl: the operator's command line for tradebus.

    tradectl up [--home DIR] [--ticket-port 8000] [--live]     the local stack (see up.py)
    tradectl tail [SUBJECT_FILTER] [--type T] [--symbol S] [--order ID] [--json] [--count N]

Commands of DESIGN §7 not listed here (replay, audit verify, halt/resume, keys) arrive with their issues.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from .home import nats_url_for_cli, resolve_home


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradectl", description="Operate a tradebus stack.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run the whole stack locally until Ctrl-C / SIGTERM")
    up.add_argument("--home", help="state directory (default $TRADEBUS_HOME or ./.tradebus)")
    up.add_argument(
        "--ticket-port",
        type=int,
        default=int(os.environ.get("TRADEBUS_TICKET_PORT", "8000")),
        help="port of the trade ticket (default $TRADEBUS_TICKET_PORT or 8000; 0 = any free port)",
    )
    up.add_argument("--live", action="store_true", help="trade with real money (needs live credentials)")

    tail = sub.add_parser("tail", help="print live events as they are published")
    tail.add_argument("subject", nargs="?", help="NATS subject filter, e.g. 'orders.>' (default: every domain subject)")
    tail.add_argument("--type", dest="event_type", help="only this event type, e.g. OrderSubmitted")
    tail.add_argument("--symbol", help="only events about this symbol")
    tail.add_argument("--order", dest="order_id", help="only events about this order_id")
    tail.add_argument("--json", action="store_true", help="JSON lines instead of human-readable lines")
    tail.add_argument("--count", type=int, help="exit after printing this many events")
    tail.add_argument("--home", help="find NATS in this home's endpoints.json when NATS_URL is not set")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "up":
        from .up import UpOptions, run_up

        opts = UpOptions(
            home=resolve_home(args.home),
            ticket_port=args.ticket_port,
            live=args.live,
            nats_url=os.environ.get("NATS_URL") or None,
            database_url=os.environ.get("DATABASE_URL") or None,
        )
        sys.exit(asyncio.run(run_up(opts)))
    if args.command == "tail":
        from .tail import DEFAULT_SUBJECTS, TailFilter, tail

        url = nats_url_for_cli(args.home)
        subjects = (args.subject,) if args.subject else DEFAULT_SUBJECTS
        flt = TailFilter(args.event_type, args.symbol, args.order_id)
        try:
            sys.exit(asyncio.run(tail(url, subjects, flt, args.json, args.count)))
        except KeyboardInterrupt:
            sys.exit(0)


if __name__ == "__main__":
    main()
