"""``order-gateway [--live]``: run the gateway until SIGTERM. Paper unless --live is given."""

from __future__ import annotations

import argparse
import sys

from .app import build_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="order-gateway", description=__doc__)
    parser.add_argument("--live", action="store_true", help="trade with real money (needs live credentials)")
    args = parser.parse_args(argv)
    if args.live:
        sys.exit("order-gateway: live trading is not available in this version; it runs in paper mode only")
    build_app().run()


if __name__ == "__main__":
    main()
