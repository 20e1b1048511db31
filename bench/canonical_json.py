"""Benchmark: the RFC 8785 bytes of one approval, and what signing and verifying it cost (issue 16).

    .venv/bin/python bench/canonical_json.py [--runs 3] [--number 5000]

One approval as the pipeline makes it (bench/pipeline.py's order, signed by a fresh key). Timed, interleaved so that a
noisy moment hits each alike, ``--number`` calls per measurement, ``--runs`` rounds:
  * ``rfc8785``: the ``rfc8785`` package's ``dumps`` of the signed fields (what signing used before);
  * ``canonical_json``: ``tradebus_contracts.signing.canonical_json`` of the same fields (what it uses now);
  * ``fields``: building the signed fields' canonical values (``canonical_value`` of each), which both need;
  * ``sign``: ``sign_approval`` whole (risk, per approval), and ``verify``: ``verify_approval`` whole (the gateway).
Prints µs per call, each round and the median. Results are recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from datetime import timedelta
from pathlib import Path

import rfc8785

from tradebus_contracts.envelope import utc_now
from tradebus_contracts.signing import (
    SIGNED_FIELDS,
    canonical_json,
    canonical_value,
    generate_private_key,
    key_id_for,
    sign_approval,
    verify_approval,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import order  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--number", type=int, default=5000)
    args = parser.parse_args()

    key = generate_private_key()
    request = order()
    approval = sign_approval(request, private_key=key, issued_at=utc_now(), ttl=timedelta(seconds=30), producer="b")
    trusted = {key_id_for(key.public_key()): key.public_key()}
    fields = {name: canonical_value(getattr(approval, name)) for name in SIGNED_FIELDS}
    assert canonical_json(fields) == rfc8785.dumps(fields)
    cases = {
        "rfc8785": lambda: rfc8785.dumps(fields),
        "canonical_json": lambda: canonical_json(fields),
        "fields": lambda: {name: canonical_value(getattr(approval, name)) for name in SIGNED_FIELDS},
        "sign": lambda: sign_approval(request, private_key=key, issued_at=approval.issued_at,
                                      ttl=timedelta(seconds=30), producer="b"),
        "verify": lambda: verify_approval(approval, trusted, approval.issued_at),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, call in cases.items():
            results[name].append(timeit.timeit(call, number=args.number) / args.number * 1e6)
    print(f"µs per call, {args.number} calls per round, {args.runs} rounds (median last)")
    for name, per_round in results.items():
        print(f"{name:<16}" + "".join(f"{t:9.1f}" for t in per_round) + f"   median {statistics.median(per_round):.1f}")


if __name__ == "__main__":
    main()
