"""Run the CLI in-process with stdout and stderr kept apart on every click version."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner, Result

from dtdoctor.cli import cli


def cli_runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click 8.1
    except TypeError:
        return CliRunner()  # click 8.2+ keeps them apart by default


def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None, **extra: Any) -> Result:
    return cli_runner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False, **extra)
