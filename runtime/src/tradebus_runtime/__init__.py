"""tradebus runtime: what every service does the same way (settings, logging, NATS, PostgreSQL, health, shutdown).

Services import from here and from ``tradebus_contracts``; never from each other.
"""

from .bus import Bus, Consumer, ConsumerSpec, Handler, PoisonMessage, expect
from .faults import DependencyUnavailable, is_transient
from .health import Degraded
from .logging import configure_logging, get_logger, register_secret
from .service import Connections, ServiceApp, ServiceGaveUp, Subscription, Wiring
from .settings import ServiceSettings
from .supervision import RestartPolicy

__all__ = [
    "Bus",
    "Consumer",
    "ConsumerSpec",
    "Handler",
    "PoisonMessage",
    "expect",
    "DependencyUnavailable",
    "is_transient",
    "Degraded",
    "RestartPolicy",
    "ServiceGaveUp",
    "ServiceApp",
    "Connections",
    "Subscription",
    "Wiring",
    "ServiceSettings",
    "configure_logging",
    "get_logger",
    "register_secret",
]
