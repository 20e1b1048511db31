"""tradebus runtime: what every service does the same way (settings, logging, NATS, PostgreSQL, health, shutdown).

Services import from here and from ``tradebus_contracts``; never from each other.
"""

from .bus import Bus, Consumer, ConsumerSpec, Handler, PoisonMessage
from .logging import configure_logging, get_logger, register_secret
from .service import Connections, ServiceApp, Subscription, Wiring
from .settings import ServiceSettings

__all__ = [
    "Bus",
    "Consumer",
    "ConsumerSpec",
    "Handler",
    "PoisonMessage",
    "ServiceApp",
    "Connections",
    "Subscription",
    "Wiring",
    "ServiceSettings",
    "configure_logging",
    "get_logger",
    "register_secret",
]
