"""Which failures are a dependency being away (wait for it) rather than bad input (dead-letter it).

A dependency outage is not bad input (DESIGN §5.7): a message whose handler failed because PostgreSQL, NATS or
the broker is unreachable must wait for the dependency, not be dead-lettered after a few tries. `is_transient`
is the one place that says which exceptions mean that:

* PostgreSQL (asyncpg): the connection is gone or cannot be made (``PostgresConnectionError`` and its kin
  ``ConnectionDoesNotExistError``, ``ConnectionFailureError``…), the server is shutting down or starting
  (``OperatorInterventionError``: admin/crash shutdown, cannot connect now, a cancelled query), out of resources
  (``InsufficientResourcesError``: too many connections, disk full), a serialization failure or deadlock
  (``TransactionRollbackError``: retrying is the documented answer), and asyncpg's bare ``InterfaceError``
  ("connection is closed", "pool is closing") — but not its subclasses, which are programming errors (an
  argument of the wrong type, an unsupported feature);
* the network: any ``OSError`` (refused, reset, unreachable), timeouts included (``asyncio.TimeoutError`` is one).
  An ``OSError`` that carries an HTTP response with a status below 500 (requests' ``HTTPError`` for a 4xx) is an
  answer, not an outage, and is not transient;
* NATS: no responders (JetStream unavailable), timeouts, a closed, draining or reconnecting connection, no
  servers, a full outbound buffer, no response from the stream, a JetStream 5xx;
* `DependencyUnavailable`, which a service raises itself for a dependency only it knows (e.g. the broker
  answering 5xx, or a REFDATA value too old to decide on).

An exception raised *from* a transient one (``raise X from exc``) is transient too: it says why it failed.
`PoisonMessage` (bus) is never transient.
"""

from __future__ import annotations

import asyncpg
import nats.errors
import nats.js.errors
from asyncpg import exceptions as pg

__all__ = ["DependencyUnavailable", "is_transient"]


class DependencyUnavailable(Exception):
    """Raised by a handler when a dependency is away (broker 5xx, …): the message waits for it, never the DLQ."""


_TRANSIENT: tuple[type[BaseException], ...] = (
    DependencyUnavailable,
    OSError,  # includes TimeoutError / asyncio.TimeoutError and nats.errors.TimeoutError
    pg.PostgresConnectionError,
    pg.OperatorInterventionError,
    pg.InsufficientResourcesError,
    pg.TransactionRollbackError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.NoServersError,
    nats.errors.OutboundBufferLimitError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.ServerError,
)


def _transient_itself(exc: BaseException) -> bool:
    if type(exc) is asyncpg.InterfaceError:  # its subclasses are misuse: wrong argument types, unsupported features
        return True
    if not isinstance(exc, _TRANSIENT):
        return False
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return not (isinstance(exc, OSError) and isinstance(status, int) and status < 500)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) means a dependency is away, not that the input is bad."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _transient_itself(current):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False
