"""The drift watch (``reconcile.DriftWatch``) as JSON, so it survives a restart.

We persist it, in the same transaction as the events of the read that changed it: a suspicion started before a
restart is confirmed by the first read after it (when the gap has passed), and a drift already reported is not
reported again — "exactly one ``PositionDrift``" holds across restarts and crashes.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from .reconcile import Drift, Drifting, Figures, Severity, Suspect


def encode_watch(watch: Suspect | Drifting) -> str:
    if isinstance(watch, Suspect):
        return json.dumps({"suspect": {"read_id": watch.read_id, "at": watch.at.isoformat()}})
    d = watch.drift
    return json.dumps({"drifting": {
        "drift_id": str(d.drift_id), "symbol": d.symbol, "severity": d.severity.value, "ledger": _figures(d.ledger),
        "broker": _figures(d.broker), "first_read_id": d.first_read_id, "second_read_id": d.second_read_id,
        "detected_at": d.detected_at.isoformat(), "adopted": watch.adopted}})


def decode_watch(text: str | dict[str, Any]) -> Suspect | Drifting:
    body = json.loads(text) if isinstance(text, str) else text
    if "suspect" in body:
        s = body["suspect"]
        return Suspect(s["read_id"], datetime.fromisoformat(s["at"]))
    d = body["drifting"]
    drift = Drift(UUID(d["drift_id"]), d["symbol"], Severity(d["severity"]), _unfigures(d["ledger"]),
                  _unfigures(d["broker"]), d["first_read_id"], d["second_read_id"],
                  datetime.fromisoformat(d["detected_at"]))
    return Drifting(drift, bool(d["adopted"]))


def _figures(f: Figures) -> list[str]:
    return [format(f.qty, "f"), format(f.avg_entry_price, "f"), format(f.cost_basis, "f")]


def _unfigures(values: list[str]) -> Figures:
    return Figures(*(Decimal(v) for v in values))
