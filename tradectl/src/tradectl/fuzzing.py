"""Fuzzing a running service's OpenAPI operations (schemathesis through hypothesis), as the HTTP services' fuzz tests
do: the checks every generated response must pass, and one operation fed its generated cases.

Test-only: schemathesis and hypothesis are dev dependencies, and nothing in tradectl imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# never a 5xx; only status codes and content types the document lists; bodies that match their schemas
API_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def fuzz_operation(
    operation: Any, mode: GenerationMode, examples: int, send_and_check: Callable[[Case], None], **more_settings: Any
) -> None:
    """Feed ``examples`` cases of ``operation`` generated in ``mode`` (positive: schema-valid, negative: invalid) to
    ``send_and_check``, which sends one and validates its response (``API_CHECKS``, or fewer where a test says so)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        **more_settings,
    )
    def check(case: Case) -> None:
        send_and_check(case)

    check()
