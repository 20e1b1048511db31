"""tradectl: the operator's command line for tradebus.

    tradectl up [--home DIR] [--ticket-port 8000] [--live]     the local stack (see up.py)
    tradectl tail [SUBJECT_FILTER] [--type T] [--symbol S] [--order ID] [--json] [--count N]
    tradectl halt [--reducing] --reason TEXT                  the kill switch (TradingStateChanged)
    tradectl resume [--reason TEXT]
    tradectl risk limits                                      the risk service's active limits and state
    tradectl keys gen-signing [--dir DIR] [--name NAME] [--force]
    tradectl keys set --account NAME [--live] | keys list | keys rotate-master   broker credentials (credentials.py)

Commands of DESIGN §7 not listed here (replay, audit verify) arrive with their issues.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from tradebus_runtime.logging import configure_logging

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

    halt = sub.add_parser("halt", help="stop trading: nothing passes risk (or, with --reducing, only reductions)")
    halt.add_argument("--reducing", action="store_true", help="let orders that reduce a position through")
    halt.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    halt.add_argument("--home")

    resume = sub.add_parser("resume", help="resume normal trading (state ACTIVE)")
    resume.add_argument("--reason", default="resumed by operator", help="why (kept in the audit trail)")
    resume.add_argument("--home")

    risk = sub.add_parser("risk", help="ask the risk service")
    risk.add_argument("what", choices=["limits"], help="limits: the active limits, trading state and usage")
    risk.add_argument("--home")

    keys = sub.add_parser("keys", help="key management")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="KEYS_COMMAND")
    gen = keys_sub.add_parser("gen-signing", help="create the risk service's Ed25519 approval key pair")
    gen.add_argument("--dir", help="where to write NAME.pem (0600) and NAME.pub (default $TRADEBUS_HOME/keys)")
    gen.add_argument("--name", default="approval-signing", help="file name stem (a new name for rotation)")
    gen.add_argument("--force", action="store_true", help="overwrite an existing key pair of that name")
    gen.add_argument("--home")
    kset = keys_sub.add_parser("set", help="store broker credentials, encrypted (key id and secret from stdin or a prompt)")
    kset.add_argument("--account", required=True, help="account name, e.g. main")
    kset.add_argument("--live", action="store_true", help="live-trading credentials (default: paper)")
    klist = keys_sub.add_parser("list", help="stored broker credentials: names and dates only")
    krotate = keys_sub.add_parser("rotate-master", help="new master key; re-encrypt every stored credential")
    for keys_parser in (kset, klist, krotate):
        keys_parser.add_argument("--home", help="where master.keys and endpoints.json are (default $TRADEBUS_HOME)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    # the runtime's structured logs are for services; an operator's console gets only warnings, on stderr
    configure_logging("tradectl", "warning", "console", stream=sys.stderr)
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
    if args.command in ("halt", "resume"):
        from tradebus_contracts import TradingState

        from .control import run_state_change

        if args.command == "resume":
            state = TradingState.ACTIVE
        else:
            state = TradingState.REDUCING if args.reducing else TradingState.HALTED
        sys.exit(run_state_change(nats_url_for_cli(args.home), state, args.reason))
    if args.command == "risk":
        from .control import run_risk_limits

        sys.exit(run_risk_limits(nats_url_for_cli(args.home)))
    if args.command == "keys" and args.keys_command == "gen-signing":
        from pathlib import Path

        from .keys import generate_signing_key

        directory = Path(args.dir).resolve() if args.dir else resolve_home(args.home) / "keys"
        try:
            files = generate_signing_key(directory, args.name, overwrite=args.force)
        except FileExistsError as exc:
            sys.exit(f"tradectl: {exc}")
        print(f"private key: {files.private_path} (mode 0600; give its path to risk-service as RISK_SIGNING_KEY_PATH)")
        print(f"public key:  {files.public_b64}  (also in {files.public_path})")
        print(f"key id:      {files.key_id}")
        sys.exit(0)
    if args.command == "keys":
        from . import credentials

        if args.keys_command == "set":
            sys.exit(credentials.run_keys_set(args.home, args.account, args.live))
        if args.keys_command == "list":
            sys.exit(credentials.run_keys_list(args.home))
        sys.exit(credentials.run_keys_rotate_master(args.home))


if __name__ == "__main__":
    main()
