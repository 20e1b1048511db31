"""Home discovery: ``--home``, else ``$TRADEBUS_HOME``, else the nearest ``.tradebus/`` from the current directory up,
else ``./.tradebus`` (where ``up`` makes a new one); and the error that says where it looked and how to point it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tradectl.home import locate_home, nats_url_for_cli, no_stack_message, resolve_home


def test_locate_home_when_home_is_given_then_it_wins_over_the_environment_and_a_home_above(tmp_path):
    (tmp_path / ".tradebus").mkdir()

    found = locate_home(str(tmp_path / "mine"), cwd=tmp_path, environ={"TRADEBUS_HOME": str(tmp_path / "env")})

    assert (found.path, found.source, found.how()) == (tmp_path / "mine", "--home", "--home")


def test_locate_home_when_tradebus_home_is_set_then_it_wins_over_a_home_above(tmp_path):
    (tmp_path / ".tradebus").mkdir()

    found = locate_home(None, cwd=tmp_path, environ={"TRADEBUS_HOME": str(tmp_path / "env")})

    assert (found.path, found.source) == (tmp_path / "env", "TRADEBUS_HOME")


def test_locate_home_when_run_deep_inside_a_tree_then_the_nearest_tradebus_above_is_found(tmp_path):
    (tmp_path / ".tradebus").mkdir()
    (tmp_path / "a" / ".tradebus").mkdir(parents=True)
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)

    found = locate_home(None, cwd=deep, environ={})

    assert (found.path, found.source) == (tmp_path / "a" / ".tradebus", "found")
    assert found.searched == (deep, deep.parent, deep.parent.parent)
    assert found.how() == f"nearest .tradebus/ up from {deep}"


def test_locate_home_when_a_file_named_tradebus_is_above_then_it_is_not_a_home(tmp_path):
    (tmp_path / ".tradebus").write_text("not a directory")

    found = locate_home(None, cwd=tmp_path, environ={})

    assert found.source == "default" and found.path == tmp_path / ".tradebus"


def test_locate_home_when_none_exists_then_a_new_one_goes_in_the_current_directory(tmp_path):
    found = locate_home(None, cwd=tmp_path, environ={"TRADEBUS_HOME": ""})

    assert (found.path, found.source) == (tmp_path / ".tradebus", "default")
    assert found.searched[0] == tmp_path and found.searched[-1] == Path(tmp_path.anchor) and len(found.searched) > 1


def test_resolve_home_when_called_from_a_subdirectory_then_the_home_above_is_used(tmp_path, monkeypatch):
    (tmp_path / ".tradebus").mkdir()
    (tmp_path / "sub").mkdir()
    monkeypatch.delenv("TRADEBUS_HOME", raising=False)
    monkeypatch.chdir(tmp_path / "sub")

    assert resolve_home() == tmp_path / ".tradebus"


def test_no_stack_message_when_nothing_is_found_then_it_names_where_it_looked_and_how_to_point_it(tmp_path):
    message = no_stack_message(locate_home(None, cwd=tmp_path, environ={}), "NATS_URL")

    assert f"no .tradebus/ directory in {tmp_path} or any directory above it" in message
    assert message.startswith("tradectl: no NATS_URL set and no running stack found: --home not given, "
                              "TRADEBUS_HOME not set")
    assert "--home DIR or TRADEBUS_HOME=DIR" in message and "`make up`" in message


def test_no_stack_message_when_a_home_is_found_but_not_running_then_it_names_that_home(tmp_path):
    (tmp_path / ".tradebus").mkdir()
    (tmp_path / "sub").mkdir()

    message = no_stack_message(locate_home(None, cwd=tmp_path / "sub", environ={}), "NATS_URL")

    assert f"no running stack found in {tmp_path / '.tradebus'} (the nearest .tradebus/ up from" in message
    assert f"{tmp_path / '.tradebus' / 'endpoints.json'} does not exist" in message
    assert f"`make up` (or `tradectl up`) in {tmp_path}," in message and "--home DIR or TRADEBUS_HOME=DIR" in message


def test_nats_url_for_cli_when_a_running_home_is_above_then_its_endpoints_are_read(tmp_path, monkeypatch):
    home = tmp_path / ".tradebus"
    home.mkdir()
    (home / "endpoints.json").write_text(json.dumps({"nats_url": "nats://127.0.0.1:4999"}))
    (tmp_path / "x" / "y").mkdir(parents=True)
    for var in ("NATS_URL", "TRADEBUS_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path / "x" / "y")

    assert nats_url_for_cli() == "nats://127.0.0.1:4999"


def test_nats_url_for_cli_when_the_given_home_has_no_stack_then_exit_with_the_way_to_start_one(tmp_path, monkeypatch):
    monkeypatch.delenv("NATS_URL", raising=False)

    with pytest.raises(SystemExit) as exc:
        nats_url_for_cli(str(tmp_path))

    assert f"no running stack found in {tmp_path} (from --home)" in str(exc.value)
    assert f"`tradectl up --home {tmp_path}`" in str(exc.value)
