"""tradectl: the operator's command line for tradebus.

    tradectl up [--home DIR] [--ticket-port 8000] [--live] [--nats-cluster 3]   the local stack (see up.py)
    tradectl tail [SUBJECT_FILTER] [--type T] [--symbol S] [--order ID] [--json] [--count N]
    tradectl replay (--order ID | --since T [--until T]) [--type T] [--json]   history from the audit trail
    tradectl audit verify [--from SEQ]                        prove the audit trail complete and untampered
    tradectl halt [--reducing] --reason TEXT                  the kill switch (TradingStateChanged)
    tradectl resume [--reason TEXT]
    tradectl positions [--lots] [--json]                      the position ledger: cost basis, P&L, drift (positions.py)
    tradectl sync [--rebuild] [--json] [--timeout S]          ledger vs broker now (exit 0 agree, 1 differ, 2 n/a)
    tradectl status [--json]                                  health, consumers, trading state, mode, broker, audit
    tradectl risk limits [--json]                             the risk service's active limits, state and usage
    tradectl dlq list [--service S] [--json]                  dead letters (ID = DLQ stream sequence), see dlq.py
    tradectl dlq replay (ID... | --all) [--service S] [--force]   republish dead letters to their original subject
    tradectl keys gen-signing [--dir DIR] [--name NAME] [--force]
    tradectl keys gen-audit [--dir DIR] [--force]             the audit recorder's checkpoint key pair
    tradectl keys set --account NAME [--live] | keys list | keys rotate-master   broker credentials (credentials.py)
    tradectl deploy init [--dir deploy]                       docker-compose's secrets, keys and configuration
    tradectl provision                                        streams, consumers, schemas, grants (the compose job)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from tradebus_runtime.logging import configure_logging

from .home import database_url_for_cli, nats_url_for_cli, resolve_home


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradectl", description="Operate a tradebus stack.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run the whole stack locally until Ctrl-C / SIGTERM")
    up.add_argument("--home", help="state directory (default $TRADEBUS_HOME, else the nearest .tradebus/ from here "
                                   "up, else a new ./.tradebus)")
    up.add_argument(
        "--ticket-port",
        type=int,
        default=int(os.environ.get("TRADEBUS_TICKET_PORT", "8000")),
        help="port of the trade ticket (default $TRADEBUS_TICKET_PORT or 8000; 0 = any free port)",
    )
    up.add_argument("--live", action="store_true", help="trade with real money (needs live credentials)")
    up.add_argument("--nats-cluster", type=int, default=1, choices=(1, 3, 5), metavar="N",
                    help="run N embedded nats-servers as one JetStream cluster, streams with N replicas (1, 3 or 5; "
                         "default 1)")

    tail = sub.add_parser("tail", help="print live events as they are published")
    tail.add_argument("subject", nargs="?", help="NATS subject filter, e.g. 'orders.>' (default: every domain subject)")
    tail.add_argument("--type", dest="event_type", help="only this event type, e.g. OrderSubmitted")
    tail.add_argument("--symbol", help="only events about this symbol")
    tail.add_argument("--order", dest="order_id", help="only events about this order_id")
    tail.add_argument("--json", action="store_true", help="JSON lines instead of human-readable lines")
    tail.add_argument("--count", type=int, help="exit after printing this many events")
    tail.add_argument("--home", help="find NATS in this home's endpoints.json when NATS_URL is not set")

    replay = sub.add_parser("replay", help="events from the audit trail, in order (same lines as tail)")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--order", dest="order_id", help="one order's story: every event with this order_id")
    which.add_argument("--since", help="events that occurred since T (2026-11-24T14:30:00Z, or 30m / 2h / 1d ago)")
    replay.add_argument("--until", help="with --since: events that occurred before T")
    replay.add_argument("--type", dest="event_type", help="only this event type, e.g. FillReported")
    replay.add_argument("--json", action="store_true", help='JSON lines {"seq", "subject", "event"}')
    replay.add_argument("--home", help="find PostgreSQL in this home's endpoints.json when DATABASE_URL is not set")

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="AUDIT_COMMAND")
    verify = audit_sub.add_parser("verify", help="recompute the chain; compare with the AUDIT stream and checkpoints")
    verify.add_argument("--from", dest="from_seq", type=int, default=1, help="start at this sequence (default 1)")
    verify.add_argument("--trusted-key", action="append", default=[],
                        help="base64 public key of the recorder (repeatable; default $AUDIT_TRUSTED_KEYS, else "
                             "$TRADEBUS_HOME/keys/audit-signing.pub)")
    verify.add_argument("--checkpoints", action="append", default=[], type=Path,
                        help="checkpoint file(s) (default $TRADEBUS_HOME/audit/checkpoints.jsonl)")
    verify.add_argument("--workers", type=int, help="stream reader processes (default 2 from 500,000 events, else 0)")
    verify.add_argument("--home")

    halt = sub.add_parser("halt", help="stop trading: nothing passes risk (or, with --reducing, only reductions)")
    halt.add_argument("--reducing", action="store_true", help="let orders that reduce a position through")
    halt.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    halt.add_argument("--home")

    resume = sub.add_parser("resume", help="resume normal trading (state ACTIVE)")
    resume.add_argument("--reason", default="resumed by operator", help="why (kept in the audit trail)")
    resume.add_argument("--home")

    positions = sub.add_parser("positions", help="the position ledger: quantity, cost basis, prices, P&L, drift")
    positions.add_argument("--lots", action="store_true", help="each position's open tax lots too")
    positions.add_argument("--json", action="store_true", help="the service's reply as JSON (exact decimals)")
    positions.add_argument("--home")
    sync = sub.add_parser("sync", help="compare the ledger with the broker now (exit 0 agree, 1 differ, 2 n/a)")
    sync.add_argument("--rebuild", action="store_true", help="first rebuild the ledger from the broker's fills")
    sync.add_argument("--json", action="store_true", help="the service's reply as JSON")
    sync.add_argument("--timeout", type=float, default=120.0,
                      help="seconds to wait (a sync that suspects a difference reads again after the minimum gap)")
    sync.add_argument("--home")

    risk = sub.add_parser("risk", help="ask the risk service")
    risk.add_argument("what", choices=["limits"], help="limits: the active limits, trading state and usage")
    risk.add_argument("--json", action="store_true", help="the service's reply as JSON")
    risk.add_argument("--home")

    status = sub.add_parser("status", help="the stack at a glance: health, consumers' backlog, trading state, mode, "
                                           "broker, newest audit checkpoint (exit 0 all healthy, 1 not, 2 no NATS)")
    status.add_argument("--json", action="store_true", help="the same as one JSON object")
    status.add_argument("--home")

    dlq = sub.add_parser("dlq", help="dead letters: list them, replay them")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="DLQ_COMMAND")
    dlq_list = dlq_sub.add_parser("list", help="every dead letter: ID, time, service, subject, replayed, reason")
    dlq_list.add_argument("--json", action="store_true", help="JSON lines, with the full reason and replay record")
    dlq_replay = dlq_sub.add_parser("replay", help="republish dead letters' original bytes to their original subject")
    dlq_replay.add_argument("ids", nargs="*", type=int, metavar="ID", help="DLQ IDs, as `dlq list` shows them")
    dlq_replay.add_argument("--all", action="store_true", help="every dead letter not replayed yet")
    dlq_replay.add_argument("--force", action="store_true", help="replay again what was replayed already")
    for dlq_parser in (dlq_list, dlq_replay):
        dlq_parser.add_argument("--service", help="only this service's dead letters (dlq.<service>)")
        dlq_parser.add_argument("--home")

    deploy = sub.add_parser("deploy", help="docker-compose's generated files")
    deploy_sub = deploy.add_subparsers(dest="deploy_command", required=True, metavar="SUBCOMMAND")
    deploy_init = deploy_sub.add_parser("init", help="make the identities and keys (once) and write the NATS and "
                                                     "PostgreSQL configuration docker-compose mounts")
    deploy_init.add_argument("--dir", default="deploy", help="the deploy directory (default ./deploy)")
    sub.add_parser("provision", help="as the admin and the superuser: streams, durable consumers, KV buckets, "
                                     "schemas, the audit trail, grants (from NATS_URL, NATS_ADMIN_PASSWORD_FILE, "
                                     "DATABASE_URL, POSTGRES_PASSWORD_FILE, TRADEBUS_NATS_REPLICAS)")

    keys = sub.add_parser("keys", help="key management")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="KEYS_COMMAND")
    gen = keys_sub.add_parser("gen-signing", help="create the risk service's Ed25519 approval key pair")
    gen.add_argument("--dir", help="where to write NAME.pem (0600) and NAME.pub (default $TRADEBUS_HOME/keys)")
    gen.add_argument("--name", default="approval-signing", help="file name stem (a new name for rotation)")
    gen.add_argument("--force", action="store_true", help="overwrite an existing key pair of that name")
    gen.add_argument("--home")
    gen_audit = keys_sub.add_parser("gen-audit", help="create the audit recorder's Ed25519 checkpoint key pair")
    gen_audit.add_argument("--dir",
                           help="where to write audit-signing.pem (0600) and .pub (default $TRADEBUS_HOME/keys)")
    gen_audit.add_argument("--force", action="store_true", help="overwrite an existing key pair")
    gen_audit.add_argument("--home")
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
            nats_cluster=args.nats_cluster,
        )
        sys.exit(asyncio.run(run_up(opts)))
    if args.command == "tail":
        from .tail import DEFAULT_SUBJECTS, TailFilter, tail

        url = nats_url_for_cli(args.home)
        subjects = (args.subject,) if args.subject else DEFAULT_SUBJECTS
        flt = TailFilter(args.event_type, args.symbol, args.order_id)
        database_url = _database_url_if_any(args.home) if args.order_id else None
        try:
            sys.exit(asyncio.run(tail(url, subjects, flt, args.json, args.count, database_url=database_url)))
        except KeyboardInterrupt:
            sys.exit(0)
    if args.command == "replay":
        _replay(args)
    if args.command == "audit":
        _audit_verify(args)
    if args.command in ("halt", "resume"):
        from tradebus_contracts import TradingState

        from .control import run_state_change

        if args.command == "resume":
            state = TradingState.ACTIVE
        else:
            state = TradingState.REDUCING if args.reducing else TradingState.HALTED
        sys.exit(run_state_change(nats_url_for_cli(args.home), state, args.reason))
    if args.command in ("positions", "sync"):
        from .positions import run_positions, run_sync

        url = nats_url_for_cli(args.home)
        sys.exit(run_positions(url, args.lots, args.json) if args.command == "positions" else
                 run_sync(url, args.rebuild, args.timeout, args.json))
    if args.command == "risk":
        from .control import run_risk_limits

        sys.exit(run_risk_limits(nats_url_for_cli(args.home), args.json))
    if args.command == "status":
        _status(args)
    if args.command == "dlq":
        _dlq(args)
    if args.command == "deploy":
        _deploy_init(Path(args.dir))
    if args.command == "provision":
        _provision()
    if args.command == "keys" and args.keys_command == "gen-signing":
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
    if args.command == "keys" and args.keys_command == "gen-audit":
        _gen_audit(args)
    if args.command == "keys":
        from . import credentials

        if args.keys_command == "set":
            sys.exit(credentials.run_keys_set(args.home, args.account, args.live))
        if args.keys_command == "list":
            sys.exit(credentials.run_keys_list(args.home))
        sys.exit(credentials.run_keys_rotate_master(args.home))


def _dlq(args: argparse.Namespace) -> None:
    from . import dlq

    url = nats_url_for_cli(args.home)
    if args.dlq_command == "list":
        sys.exit(dlq.run_list(url, args.service, args.json))
    if bool(args.ids) == args.all:
        sys.exit("tradectl dlq replay: give the IDs to replay, or --all")
    sys.exit(dlq.run_replay(url, args.ids, args.all, args.service, args.force))


def _deploy_init(directory: Path) -> None:
    from .deploy import init_deploy

    for path in init_deploy(directory):
        print(f"wrote {path}")
    print(f"secrets and keys in {directory / 'secrets'} and {directory / 'keys'} (made once, 0600); "
          "now: docker compose up")
    sys.exit(0)


def _provision() -> None:
    from .identities import with_credentials
    from .provision import ProvisionError, provision

    def secret(env_var: str) -> str | None:
        path = os.environ.get(env_var)
        return Path(path).read_text().strip() if path else None

    nats_url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    admin_password = secret("NATS_ADMIN_PASSWORD_FILE")
    if admin_password is not None:
        nats_url = with_credentials(nats_url, "admin", admin_password)
    database_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/tradebus")
    try:
        asyncio.run(provision(nats_url, database_url, replicas=int(os.environ.get("TRADEBUS_NATS_REPLICAS", "1")),
                              postgres_password=secret("POSTGRES_PASSWORD_FILE")))
    except ProvisionError as exc:
        sys.exit(f"tradectl provision: {exc}")
    print("provisioned: streams, durable consumers, KV buckets, schemas, audit trail, grants")
    sys.exit(0)


def _status(args: argparse.Namespace) -> None:
    from .home import locate_home, read_endpoints
    from .status import run_status

    url = nats_url_for_cli(args.home)
    home = locate_home(args.home)
    sys.exit(run_status(url, bool(os.environ.get("NATS_URL")), home, read_endpoints(home.path), args.json))


def _database_url_if_any(home_arg: str | None) -> str | None:
    try:
        return database_url_for_cli(home_arg)
    except SystemExit:
        return None


def _replay(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    from .replay import ReplayQuery, parse_when, run_replay

    if args.until and not args.since:
        sys.exit("tradectl replay: --until needs --since")
    now = datetime.now(UTC)
    try:
        since = parse_when(args.since, now) if args.since else None
        until = parse_when(args.until, now) if args.until else None
    except ValueError as exc:
        sys.exit(f"tradectl replay: {exc}")
    query = ReplayQuery(order_id=args.order_id, since=since, until=until, event_type=args.event_type)
    sys.exit(run_replay(database_url_for_cli(args.home), query, args.json))


def _audit_verify(args: argparse.Namespace) -> None:
    from .audit_verify import VerifyOptions, run_verify
    from .keys import trusted_audit_keys

    home = resolve_home(args.home)
    try:
        trusted = trusted_audit_keys(args.trusted_key or os.environ.get("AUDIT_TRUSTED_KEYS", "").split(","), home)
    except ValueError as exc:
        sys.exit(f"tradectl audit verify: {exc}")
    files = tuple(args.checkpoints) or (home / "audit" / "checkpoints.jsonl",)
    opts = VerifyOptions(database_url=database_url_for_cli(args.home), nats_url=nats_url_for_cli(args.home),
                         trusted=trusted, checkpoint_files=files, from_seq=max(1, args.from_seq),
                         workers=args.workers, progress=sys.stderr)
    sys.exit(run_verify(opts))


def _gen_audit(args: argparse.Namespace) -> None:
    from .keys import AUDIT_KEY_NAME, generate_signing_key

    directory = Path(args.dir).resolve() if args.dir else resolve_home(args.home) / "keys"
    try:
        files = generate_signing_key(directory, AUDIT_KEY_NAME, overwrite=args.force)
    except FileExistsError as exc:
        sys.exit(f"tradectl: {exc}")
    print(f"private key: {files.private_path} (mode 0600; give its path to audit-recorder as AUDIT_SIGNING_KEY_PATH)")
    print(f"public key:  {files.public_b64}  (in {files.public_path}: what `tradectl audit verify` trusts)")
    print(f"key id:      {files.key_id}")
    sys.exit(0)


if __name__ == "__main__":
    main()
