"""``--help`` of every command: examples, and no ``<bool>`` or ``<list[...]>`` types."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lbsim.cli.commands import EXAMPLES, app

COMMANDS = sorted(EXAMPLES)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples_and_plain_types(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Examples:" in text
    assert f"lbsim {command}" in text
    assert "<bool>" not in text
    assert "<list[" not in text


def test_every_command_has_examples() -> None:
    names = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    assert names == set(EXAMPLES)
