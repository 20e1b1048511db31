"""The committed JSON Schemas are what the models produce now: a model change without a re-export fails."""

from __future__ import annotations

import json

from tradebus_contracts.codec import EVENT_TYPES
from tradebus_contracts.schema_export import DEFAULT_SCHEMA_DIR, main, render_schemas

REEXPORT = "re-export with: uv run python -m tradebus_contracts.schema_export"


def test_committed_schemas_when_compared_with_models_then_identical():
    assert main(["--check"]) == 0, REEXPORT
    assert sorted(p.name for p in DEFAULT_SCHEMA_DIR.glob("*.json")) == sorted(f"{n}.json" for n in EVENT_TYPES)


def test_render_when_any_event_then_sorted_stable_json_with_final_newline():
    rendered = render_schemas()

    assert rendered == render_schemas()
    for name, text in rendered.items():
        assert text.endswith("}\n")
        schema = json.loads(text)
        assert json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text
        assert schema["title"] == name.removesuffix(".json")
        assert schema["additionalProperties"] is False


def test_export_when_a_file_is_stale_or_left_over_then_check_fails_and_write_repairs(tmp_path, capsys):
    assert main(["--out", str(tmp_path)]) == 0
    (tmp_path / "FillReported.json").write_text("{}\n")
    (tmp_path / "OrderExploded.json").write_text("{}\n")

    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert "FillReported.json" in capsys.readouterr().out

    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    assert not (tmp_path / "OrderExploded.json").exists()
