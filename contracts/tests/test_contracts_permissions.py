"""The NATS permissions derived from the topology: who may publish what, read what, and what nobody but the admin
may do. Pure: the server's own enforcement is tried in tests/test_least_privilege.py."""

import pytest

from tradebus_contracts.consumers import DURABLES
from tradebus_contracts.permissions import ADMIN, IDENTITIES, NEVER, inbox_prefix, permissions_for
from tradebus_contracts.services import OPERATOR, Service
from tradebus_contracts.subjects import subject_matches
from tradebus_contracts.topology import CHANNELS

NON_ADMIN = tuple(i for i in IDENTITIES if i != ADMIN)


def may_publish(identity: str, subject: str) -> bool:
    p = permissions_for(identity)
    assert p is not None
    return any(subject_matches(a, subject) for a in p.publish) and not any(subject_matches(d, subject) for d in p.publish_deny)


def test_publishers_when_derived_then_each_event_has_exactly_its_producers():
    cases = {"risk.approved.AAPL": {Service.RISK}, "risk.rejected.AAPL": {Service.RISK},
             "fills.AAPL": {Service.GATEWAY}, "orders.submitted.AAPL": {Service.GATEWAY},
             "orders.status.AAPL": {Service.GATEWAY}, "broker.activities.FILL.AAPL": {Service.GATEWAY},
             "control.trading_state": {OPERATOR}, "orders.requested.AAPL": {Service.TICKET_API},
             "orders.cancel.AAPL": {Service.TICKET_API, OPERATOR},
             "broker.trade_updates.AAPL": {Service.WEBHOOK_INGEST},
             "positions.drift.AAPL": {Service.POSITION_SYNC}, "audit.checkpoints": {Service.AUDIT_RECORDER}}
    for subject, producers in cases.items():
        assert {i for i in NON_ADMIN if may_publish(i, subject)} == producers, subject


def test_dead_letters_when_derived_then_each_service_publishes_only_its_own():
    for service in Service:
        assert may_publish(service, f"dlq.{service}")
        assert not any(may_publish(service, f"dlq.{other}") for other in Service if other != service)


@pytest.mark.parametrize("identity", NON_ADMIN)
def test_streams_when_derived_then_no_identity_but_the_admin_creates_changes_deletes_or_purges(identity):
    for stream in ("ORDERS", "RISK", "AUDIT", "AUDIT_CHECKPOINTS", "KV_REFDATA"):
        for verb in ("CREATE", "UPDATE", "DELETE", "PURGE"):
            assert not may_publish(identity, f"$JS.API.STREAM.{verb}.{stream}")
        assert not may_publish(identity, f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.x")
    assert permissions_for(ADMIN) is None
    assert set(NEVER) <= set(permissions_for(identity).publish_deny)


@pytest.mark.parametrize("identity", NON_ADMIN)
def test_durables_when_derived_then_an_identity_binds_only_to_its_own(identity):
    for durable in DURABLES:
        own = durable.service == identity
        for subject in (f"$JS.API.CONSUMER.MSG.NEXT.{durable.stream}.{durable.name}",
                        f"$JS.ACK.{durable.stream}.{durable.name}.1.2.3.4.5",
                        f"$JS.API.CONSUMER.CREATE.{durable.stream}.{durable.name}",
                        f"$JS.API.CONSUMER.DELETE.{durable.stream}.{durable.name}"):
            allowed = own and "CREATE" not in subject and "DELETE" not in subject
            assert may_publish(identity, subject) == allowed, subject


def test_durables_when_listed_then_every_consuming_service_has_its_own_and_names_are_unique():
    assert len({(d.stream, d.name) for d in DURABLES}) == len(DURABLES)
    assert {d.service for d in DURABLES} >= {Service.RISK, Service.GATEWAY, Service.POSITION_SYNC,
                                             Service.TICKET_API}


@pytest.mark.parametrize("identity", NON_ADMIN)
def test_inboxes_when_derived_then_each_identity_reads_only_its_own(identity):
    p = permissions_for(identity)
    own = [s for s in p.subscribe if s.startswith("_INBOX")]
    assert own == [f"{inbox_prefix(identity)}.>"]


def test_subscriptions_when_derived_then_a_service_follows_only_channels_it_consumes():
    ticket = permissions_for(Service.TICKET_API)
    consumed = {c.subject_filter for c in CHANNELS if Service.TICKET_API in c.consumers}
    assert consumed <= set(ticket.subscribe)
    assert not any(subject_matches(s, "broker.trade_updates.AAPL") for s in ticket.subscribe)
    webhook = permissions_for(Service.WEBHOOK_INGEST)
    assert set(webhook.subscribe) == {f"{inbox_prefix(Service.WEBHOOK_INGEST)}.>", f"health.{Service.WEBHOOK_INGEST}"}


def test_unknown_identity_when_asked_then_refused():
    with pytest.raises(ValueError, match="unknown NATS identity"):
        permissions_for("mallory")
