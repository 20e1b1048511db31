"""``audit-recorder``: record the AUDIT stream until SIGTERM."""

from .app import build_app


def main() -> None:
    build_app().run()


if __name__ == "__main__":
    main()
