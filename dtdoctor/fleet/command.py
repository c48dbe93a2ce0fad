"""``dtdoctor merge``: read and merge the reports, write the fleet files, say what happened."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

from dtdoctor.core.model import STATUS_ORDER
from dtdoctor.fleet.merge import Fleet, FleetMerger
from dtdoctor.fleet.reading import SkippedFile

# The fleet JSON is indented for a person while small, compact (and much faster to write) for a large fleet.
JSON_INDENT_MAX_HOSTS = 1000

# Output suffix -> fleet format.
FLEET_SUFFIXES = {".html": "html", ".htm": "html", ".json": "json"}


def render_fleet(fleet: Fleet, fmt: str) -> str:
    if fmt == "json":
        indent = 2 if len(fleet.hosts) <= JSON_INDENT_MAX_HOSTS else None
        return json.dumps(fleet.to_json(), indent=indent, ensure_ascii=False) + "\n"
    from dtdoctor.render.fleet_html import render

    return render(fleet)


def output_targets(outputs: Sequence[str]) -> list[tuple[Path, str]]:
    """Each ``-o`` path with the fleet format its suffix names; a bad one is a usage error."""
    import click

    from dtdoctor.render.output import report_path

    targets: list[tuple[Path, str]] = []
    for text in outputs:
        try:
            targets.append(report_path(text, FLEET_SUFFIXES, "fleet report"))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    return targets


def run_merge(paths: Sequence[str], outputs: Sequence[str], host_from: str, warn_ok: bool, redactor: Any) -> int:
    """``dtdoctor merge``: read, merge, write, tell; the exit code is the fleet's worst status."""
    import click

    from dtdoctor.render.output import write_atomic, write_stdout

    targets = output_targets(outputs)
    merger = FleetMerger(host_from=host_from)
    merger.add_paths(paths, on_skip=tell_skipped)
    fleet = merger.fleet(warn_ok)
    if not fleet.hosts:
        where = ", ".join(paths)
        raise click.ClickException(f"no dtdoctor host reports to merge in {where} ({merger.files_read} files read)")
    for path, fmt in targets:
        write_atomic(path, render_fleet(fleet, fmt), redactor)
    grouped = fleet.hosts_by_status()
    by_status = ", ".join(f"{len(grouped[s.value])} {s.value}" for s in STATUS_ORDER if grouped[s.value])
    extras = []
    if fleet.superseded:
        extras.append(f"{fleet.superseded} older superseded")
    if fleet.skipped:
        extras.append(f"{len(fleet.skipped)} skipped")
    if fleet.refused:
        extras.append(f"{len(fleet.refused)} refused")
    extra = f"; {', '.join(extras)}" if extras else ""
    written = ", ".join(str(path) for path, _ in targets)
    write_stdout(
        f"merged {_plural(len(fleet.hosts), 'host')} from {_plural(fleet.files_read, 'file')} ({by_status}{extra}); "
        f"fleet status {fleet.status.value}, exit {int(fleet.exit_code)}; wrote {written}\n"
    )
    return int(fleet.exit_code)


def tell_skipped(item: SkippedFile) -> None:
    # Said as it happens, so a long merge shows its problems early.
    if item.refused:
        sys.stderr.write(f"dtdoctor: error: refused {item.path}: {item.reason}\n")
    else:
        sys.stderr.write(f"dtdoctor: warning: skipped {item.path}: {item.reason}\n")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
