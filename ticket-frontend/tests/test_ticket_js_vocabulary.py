"""The ticket's JavaScript vocabulary is what the contracts say now: a contract change without a regeneration fails."""

from __future__ import annotations

from ticket_api.js_vocabulary import COMMAND, DEFAULT_PATH, is_stale, main, render
from tradebus_contracts.events import CancelOutcome
from tradebus_contracts.orders import OrderProgress


def test_committed_js_vocabulary_when_compared_with_contracts_then_identical():
    assert DEFAULT_PATH.read_text(encoding="utf-8") == render(), f"regenerate with: {COMMAND}"


def test_render_when_any_contract_then_stable_with_every_value_and_the_generated_header():
    text = render()

    assert text == render() and text.endswith(";\n")
    assert text.startswith("// generated from tradebus_contracts — do not edit; regenerate with")
    assert all(f'"{p.value}"' in text for p in OrderProgress)
    assert all(f'"{o.value}"' in text for o in CancelOutcome)
    assert "_EXCEEDS_" not in text and "INSUFFICIENT_BUYING_POWER" not in text  # no reason codes, no risk rules


def test_generate_when_the_file_is_stale_then_check_fails_and_write_repairs(tmp_path, capsys):
    out = tmp_path / "vocabulary.generated.js"
    out.write_text("export const OrderSide = {};\n")

    assert main(["--out", str(out), "--check"]) == 1
    assert "stale" in capsys.readouterr().out

    assert main(["--out", str(out)]) == 0
    assert not is_stale(out) and main(["--out", str(out), "--check"]) == 0
