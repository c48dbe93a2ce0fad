"""``dtdoctor merge``: read and merge the reports, write the fleet files, say what happened."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

from dtdoctor.core.model import STATUS_ORDER
from dtdoctor.fleet.accounting import ExpectedHost
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


def read_expected(expect: str | None) -> list[ExpectedHost] | None:
    import click

    from dtdoctor.fleet.accounting import ExpectFileError, read_expect_file

    if expect is None:
        return None
    try:
        return read_expect_file(expect)
    except ExpectFileError as exc:
        raise click.UsageError(str(exc)) from None


def run_merge(paths: Sequence[str], outputs: Sequence[str], host_from: str, warn_ok: bool, redactor: Any,
              expect: str | None = None, max_age_s: float | None = None) -> int:
    """``dtdoctor merge``: read, merge, write, tell; the exit code is the fleet's worst status."""
    import click

    from dtdoctor.render.output import write_atomic, write_stdout

    targets = output_targets(outputs)
    expected = read_expected(expect)
    merger = FleetMerger(host_from=host_from)
    merger.add_paths(paths, on_skip=tell_skipped)
    fleet = merger.fleet(warn_ok, expected, max_age_s)
    if not fleet.hosts and not fleet.missing:
        where = ", ".join(paths)
        raise click.ClickException(f"no dtdoctor host reports to merge in {where} ({merger.files_read} files read)")
    for path, fmt in targets:
        write_atomic(path, render_fleet(fleet, fmt), redactor)
    tell_unaccounted(fleet)
    written = ", ".join(str(path) for path, _ in targets)
    write_stdout(f"{merge_line(fleet)}; wrote {written}\n")
    return int(fleet.exit_code)


def merge_line(fleet: Fleet) -> str:
    """What the merge did, in one line: hosts per status, what was left out or is unaccounted for, the verdict."""
    grouped = fleet.hosts_by_status()
    by_status = ", ".join(f"{len(grouped[s.value])} {s.value}" for s in STATUS_ORDER if grouped[s.value])
    tallies = (("older superseded", fleet.superseded), ("duplicate", fleet.duplicates), ("skipped", len(fleet.skipped)),
               ("refused", len(fleet.refused)), ("missing", len(fleet.missing)), ("stale", len(fleet.stale)),
               ("unexpected", len(fleet.unexpected)))
    extras = [f"{count} {name}" for name, count in tallies if count]
    extra = f"; {', '.join(extras)}" if extras else ""
    merged = f"merged {_plural(len(fleet.hosts), 'host')} from {_plural(fleet.files_read, 'file')}"
    return (f"{merged} ({by_status}{extra}); fleet status {fleet.status.value}, "
            f"exit {int(fleet.exit_code)}")


TOLD_HOSTS_MAX = 20


def tell_unaccounted(fleet: Fleet) -> None:
    """Each missing or stale host on stderr (the first few): the operator sees who, not just how many."""
    lines = [f"dtdoctor: error: {item.host} missing: {item.text}\n" for item in fleet.missing]
    lines += [f"dtdoctor: error: {item.host} stale: {item.text}\n" for item in fleet.stale]
    for line in lines[:TOLD_HOSTS_MAX]:
        sys.stderr.write(line)
    if len(lines) > TOLD_HOSTS_MAX:
        sys.stderr.write(f"dtdoctor: error: and {len(lines) - TOLD_HOSTS_MAX} more missing or stale hosts "
                         "(see the fleet report)\n")


def tell_skipped(item: SkippedFile) -> None:
    # Said as it happens, so a long merge shows its problems early.
    if item.refused:
        sys.stderr.write(f"dtdoctor: error: refused {item.path}: {item.reason}\n")
    else:
        sys.stderr.write(f"dtdoctor: warning: skipped {item.path}: {item.reason}\n")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
