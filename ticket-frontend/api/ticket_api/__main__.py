"""``ticket-api``: serve the trade ticket and its API until SIGTERM."""

from .app import build_app


def main() -> None:
    build_app().run()


if __name__ == "__main__":
    main()
