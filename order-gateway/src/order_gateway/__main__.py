"""``order-gateway [--live]``: run the gateway until SIGTERM. Paper unless --live is given."""

from __future__ import annotations

import argparse

from .app import build_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="order-gateway", description=__doc__)
    parser.add_argument("--live", action="store_true", help="trade with real money (needs live credentials)")
    args = parser.parse_args(argv)
    build_app(live=args.live).run()


if __name__ == "__main__":
    main()
