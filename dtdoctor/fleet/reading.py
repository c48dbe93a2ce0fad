"""Report files in, host summaries out: finding, reading and parsing them, in parallel when many."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from dtdoctor import __version__
from dtdoctor.core.model import SCHEMA, Evidence
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



# Reports written before results carried typed ``evidence`` (still schema
# dtdoctor.report/v1) hold the same facts only in free-form details, under the
# names the checks and sample reports used then. This is the one place that
# knows those names: each field's candidates, first match wins; a dot reads a
# nested key, ``[0]`` / ``[-1]`` the first or last item of a list.
_OLD_DETAIL_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("latency_ms", ("latency_ms",)),
    ("http_status", ("http_status", "status", "status_code")),
    ("proxy", ("route.proxy", "proxy", "via_proxy", "proxy_url")),
    ("certificate_issuer", ("leaf.issuer", "issuer", "certificate.issuer", "leaf_issuer", "chain[0].issuer")),
    ("certificate_root", ("untrusted_root", "root_subject", "root", "chain_root", "root_issuer", "chain[-1].issuer")),
    ("missing_scopes", ("missing_scopes", "missing_scope", "scopes_missing")),
    ("error", ("error", "reason")),
)
# An expiry meant the certificate's in tls results and the token's in token results.
_OLD_EXPIRY_KEYS = {
    "tls": ("certificate_expires_at", ("leaf.not_after", "expiry", "expires_at", "not_after")),
    "token": ("token_expires_at", ("expires", "expiry", "expires_at")),
}


def _old_value(details: Any, key: str) -> Any:
    value = details
    for part in key.split("."):
        name, _, index = part.partition("[")
        if not isinstance(value, dict):
            return None
        value = value.get(name)
        if index:
            if not isinstance(value, list) or not value:
                return None
            value = value[int(index.rstrip("]"))]
    return value


def evidence_from_details(check_id: str, details: Any) -> dict[str, Any]:
    """The typed evidence of a result written before the ``evidence`` field, read from its old detail keys."""
    wanted = list(_OLD_DETAIL_KEYS)
    expiry = _OLD_EXPIRY_KEYS.get(check_id.partition(".")[0])
    if expiry is not None:
        wanted.append(expiry)
    found: dict[str, Any] = {}
    for field_name, keys in wanted:
        found[field_name] = next(
            (value for value in (_old_value(details, key) for key in keys) if value not in (None, "", [], {})), None
        )
    if isinstance(found["missing_scopes"], str):
        found["missing_scopes"] = [found["missing_scopes"]]
    via = _old_value(details, "route.via")
    found["route"] = via if via is not None else ("proxy" if isinstance(found["proxy"], str) else None)
    # Through the typed reader: a value of the wrong type under an old name is dropped, not trusted.
    return Evidence.from_json(found).to_json()


def with_typed_evidence(data: Any) -> Any:
    """A host report in which every result has ``evidence``: old reports get it from their details."""
    checks = data.get("checks") if isinstance(data, dict) else None
    if isinstance(checks, list):
        for item in checks:
            if isinstance(item, dict) and "evidence" not in item:
                item["evidence"] = evidence_from_details(str(item.get("id", "")), item.get("details"))
    return data


def read_report(path: str | Path) -> Any:
    """Parse one file, refusing anything too large to be a host report."""
    return parse_report(read_report_bytes(path))


def read_report_bytes(path: str | Path) -> bytes:
    """One file's bytes, refusing anything too large to be a host report."""
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
    return raw


def parse_report(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise NotAReport(f"not JSON ({reason})") from None


def iter_report_files(paths: Iterable[str | Path]) -> Iterator[str]:
    """Every file given, and every ``*.json`` under every folder given, in a stable order; a file
    reached twice (given twice, or also found in a folder given) is listed once."""
    visited: set[tuple[int, int]] = set()
    for given in paths:
        found = _json_files_under(os.fspath(given), visited) if os.path.isdir(given) else iter([os.fspath(given)])
        for path in found:
            if _first_visit(path, visited):
                yield path


def _first_visit(path: str, visited: set[tuple[int, int]]) -> bool:
    """Whether ``path`` is a file not seen before; one that cannot be looked at is listed (and skipped later)."""
    try:
        identity = os.stat(path)
    except OSError:
        return True
    key = (identity.st_dev, identity.st_ino)
    if key in visited:
        return False
    visited.add(key)
    return True


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
        raw = read_report_bytes(path)
        summary = summarize(with_typed_evidence(parse_report(raw)), path, host_name_for(path, host_from))
        summary.digest = hashlib.sha256(raw).hexdigest()
        return summary
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

