"""Alpaca's error bodies: ``{"code": int, "message": str}`` plus optional detail fields."""

from __future__ import annotations

from typing import Any

INVALID_INPUT = 40010001
UNAUTHORIZED = 40110000
FORBIDDEN = 40310000
NOT_FOUND = 40410000
UNPROCESSABLE = 42210000
RATE_LIMITED = 42910000


class BrokerError(Exception):
    """A refusal the broker answers with Alpaca's status, code and message."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


def invalid(message: str) -> BrokerError:
    return BrokerError(422, INVALID_INPUT, message)


def unprocessable(message: str) -> BrokerError:
    return BrokerError(422, UNPROCESSABLE, message)


def forbidden(message: str, **extra: Any) -> BrokerError:
    return BrokerError(403, FORBIDDEN, message, **extra)


def not_found(message: str) -> BrokerError:
    return BrokerError(404, NOT_FOUND, message)
