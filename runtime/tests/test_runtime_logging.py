import io
import json

import pytest
import structlog

from tradebus_runtime.logging import REDACTED, clear_registered_secrets, configure_logging, get_logger, register_secret


@pytest.fixture
def log_lines():
    buffer = io.StringIO()
    configure_logging("test-service", "debug", "json", stream=buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    clear_registered_secrets()
    structlog.reset_defaults()


def test_log_when_field_is_named_like_a_secret_then_value_is_redacted(log_lines):
    get_logger("t").info("broker.connect", api_key="AKXYZ123", secret_key="s3cr3t", password="pw", key_id="kid-1")

    line = log_lines()[0]

    assert line["api_key"] == REDACTED
    assert line["secret_key"] == REDACTED
    assert line["password"] == REDACTED
    assert line["key_id"] == "kid-1"  # an approval key id is public
    assert line["service"] == "test-service"


def test_log_when_nested_dict_holds_a_secret_then_it_is_redacted(log_lines):
    get_logger("t").info("request", headers={"APCA-API-SECRET-KEY": "abcd1234", "accept": "json"})

    line = log_lines()[0]

    assert line["headers"] == {"APCA-API-SECRET-KEY": REDACTED, "accept": "json"}


def test_log_when_registered_secret_appears_inside_a_message_then_it_is_masked(log_lines):
    register_secret("CANARY-9f8e7d")

    get_logger("t").warning("broker.error", detail="401: key CANARY-9f8e7d rejected")

    assert log_lines()[0]["detail"] == f"401: key {REDACTED} rejected"


def test_log_when_exception_message_carries_a_secret_then_traceback_is_masked(log_lines):
    register_secret("CANARY-traceback-42")

    def fail(token_value: str) -> None:
        raise RuntimeError(f"auth failed for {token_value}")

    try:
        fail("CANARY-traceback-42")
    except RuntimeError:
        get_logger("t").exception("broker.failed")

    raw = json.dumps(log_lines())
    assert "CANARY-traceback-42" not in raw
    assert "auth failed for" in raw


def test_load_settings_when_required_value_missing_then_exit_names_the_variable(monkeypatch):
    from pydantic import Field

    from tradebus_runtime.settings import ServiceSettings, load_settings

    class Needy(ServiceSettings):
        signing_key_path: str = Field(validation_alias="NEEDY_KEY_PATH")

    monkeypatch.delenv("NEEDY_KEY_PATH", raising=False)

    with pytest.raises(SystemExit) as exit_info:
        load_settings(Needy, "needy")

    assert "NEEDY_KEY_PATH" in str(exit_info.value) and "needy: invalid settings" in str(exit_info.value)
