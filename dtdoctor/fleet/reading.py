"""Report files in, host summaries out: finding, reading and parsing them, in parallel when many."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from dtdoctor import __version__
from dtdoctor.core.model import SCHEMA
from dtdoctor.fleet.summary import HostSummary, NewerSchema, NotAReport, summarize, text_of

# A host report is a few kilobytes; a file this large is something else, and
# parsing it would defeat the bounded memory the merge promises.
MAX_REPORT_BYTES = 32 * 1024 * 1024
# Below this many files one process is quicker than starting workers to parse in parallel.
PARALLEL_MIN_FILES = 1500
CHUNK_FILES = 250
MAX_WORKERS = 8


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of the merge: skipped (unreadable, foreign) or refused (newer schema)."""

    path: str
    reason: str
    refused: bool = False

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}




def read_report(path: str | Path) -> Any:
    """Parse one file, refusing anything too large to be a host report."""
    try:
        # A FIFO or device named *.json would block open() or read() for ever: only regular files are reports.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise NotAReport("not a regular file")
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > MAX_REPORT_BYTES:
                raise NotAReport(f"too large for a dtdoctor report ({size // (1024 * 1024)} MiB)")
            raw = stream.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise NotAReport(f"unreadable: {exc.strerror or exc}") from None
    if len(raw) > MAX_REPORT_BYTES:
        raise NotAReport("too large for a dtdoctor report")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise NotAReport(f"not JSON ({reason})") from None


def iter_report_files(paths: Iterable[str | Path]) -> Iterator[str]:
    """Every file given, and every ``*.json`` under every folder given, in a stable order."""
    visited: set[tuple[int, int]] = set()
    for given in paths:
        if os.path.isdir(given):
            yield from _json_files_under(os.fspath(given), visited)
        else:
            yield os.fspath(given)


def _json_files_under(folder: str, visited: set[tuple[int, int]]) -> Iterator[str]:
    try:
        identity = os.stat(folder)
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    # A folder reached twice (a symlink loop, or the same folder given twice) is read once.
    key = (identity.st_dev, identity.st_ino)
    if key in visited:
        return
    visited.add(key)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_folder = entry.is_dir()
        except OSError:
            is_folder = False
        if is_folder:
            yield from _json_files_under(entry.path, visited)
        elif entry.name.lower().endswith(".json"):
            yield entry.path


def host_name_for(path: str, host_from: str) -> str | None:
    if host_from == "file":
        return os.path.splitext(os.path.basename(path))[0]
    if host_from == "parent":
        return os.path.basename(os.path.dirname(os.path.abspath(path))) or None
    return None


def read_and_summarize(path: str, host_from: str = "report") -> HostSummary | SkippedFile:
    """One file's contribution to the merge: its host summary, or why it was left out."""
    try:
        return summarize(read_report(path), path, host_name_for(path, host_from))
    except NewerSchema as exc:
        return SkippedFile(
            path,
            f"written by a newer dtdoctor (schema {text_of(exc.schema, 80)}); this dtdoctor {__version__} reads "
            f"{SCHEMA}: merge with a newer dtdoctor",
            refused=True,
        )
    except NotAReport as exc:
        return SkippedFile(path, str(exc))


def _summarize_chunk(chunk: tuple[list[str], str]) -> list[HostSummary | SkippedFile]:
    files, host_from = chunk
    return [read_and_summarize(path, host_from) for path in files]


def summarize_files(files: Sequence[str], host_from: str) -> Iterator[HostSummary | SkippedFile]:
    """Summaries in the order of ``files``; parsing is spread over the CPUs for a large merge.

    Workers return only the compact summaries, so the parent never holds a
    parsed report; chunks keep the hand-over cheap and the order stable.
    """
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    if len(files) < PARALLEL_MIN_FILES or workers < 2:
        for path in files:
            yield read_and_summarize(path, host_from)
        return
    import multiprocessing

    chunks = [(list(files[start : start + CHUNK_FILES]), host_from) for start in range(0, len(files), CHUNK_FILES)]
    # Not plain fork: forking a process that runs threads can deadlock the child
    # (Python 3.12+ warns, 3.14 no longer defaults to it). forkserver where the
    # platform has it, else spawn.
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        for outcomes in pool.imap(_summarize_chunk, chunks):
            yield from outcomes

