"""The versions of one package that apt's package lists on disk offer, read without building apt's cache.

``apt-cache policy`` builds its whole cache in memory when the cache file is
disabled (as container images do): about a second on a small machine, and
tens of megabytes. The lists themselves (``/var/lib/apt/lists/*_Packages``,
one RFC 822 stanza per package, as ``apt-get update`` stores them) are read
here: plain files directly; compressed ones (``.lz4``, ``.gz``, ``.xz``, as
``Acquire::GzipIndexes`` keeps them) decompressed in process by the libraries
apt reads them with (``host/compressed.py``), and whatever that cannot read
as apt does (``.zst``, a missing library, a library error) through
``apt-helper cat-file``, which decompresses whatever apt itself wrote. One
timeout covers the whole lookup; past it the answer is "unknown", never the
lists read so far. Versions are compared as dpkg does (Debian Policy
5.6.12). No network, nothing written.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from functools import cmp_to_key
from pathlib import Path
from typing import IO, Iterator

from dtdoctor.host import compressed, stanzas
from dtdoctor.host.ca_package import PACKAGE

APT_HELPER = "usr/lib/apt/apt-helper"


def list_files(root: Path) -> list[Path]:
    folder = root / "var/lib/apt/lists"
    try:
        names = sorted(path for path in folder.iterdir() if path.is_file())
    except OSError:
        return []
    return [path for path in names if re.search(r"_Packages(\.\w+)?$", path.name)]


class _Deadline:
    """One timeout for the whole lookup: every read waits at most until it, and a helper is ended at it.

    ``stop``, when set, ends the reading as the timeout does (the caller no longer needs the answer).
    """

    def __init__(self, timeout: float, stop: threading.Event | None = None) -> None:
        self.at = time.monotonic() + timeout
        self.stop = stop

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def tick(self) -> None:
        if not self.left() or (self.stop is not None and self.stop.is_set()):
            raise TimeoutError("apt's package lists were not read within the timeout, or no longer needed")


def _file_chunks(handle: IO[bytes], deadline: _Deadline) -> Iterator[bytes]:
    while True:
        deadline.tick()
        chunk = handle.read(compressed.CHUNK)
        if not chunk:
            return
        yield chunk


def _pipe_chunks(descriptor: int, deadline: _Deadline) -> Iterator[bytes]:
    import select

    while True:
        deadline.tick()
        ready, _, _ = select.select([descriptor], [], [], deadline.left())
        if not ready:
            raise TimeoutError("apt-helper did not answer within the timeout")
        chunk = os.read(descriptor, compressed.CHUNK)
        if not chunk:
            return
        yield chunk


def _through_helper(root: Path, path: Path, deadline: _Deadline) -> list[bytes]:
    """``apt-helper cat-file``: whatever apt itself can decompress, as apt does."""
    helper = root / APT_HELPER
    if not helper.exists():
        helper = Path("/") / APT_HELPER
    with subprocess.Popen([str(helper), "cat-file", str(path)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        try:
            return list(stanzas.stanzas_of(_pipe_chunks(process.stdout.fileno(), deadline), PACKAGE))
        finally:
            process.stdout.close()
            if process.poll() is None:
                process.kill()  # past the deadline, or done writing: nothing it still does is needed
            process.wait()


def _read(root: Path, path: Path, deadline: _Deadline) -> list[bytes]:
    """The ``ca-certificates`` stanzas of one list: in process where apt's own libraries can be used as apt
    uses them, else through apt-helper."""
    if not re.search(r"\.\w+$", path.name.split("_Packages")[-1]):
        with path.open("rb") as handle:
            return list(stanzas.stanzas_of(_file_chunks(handle, deadline), PACKAGE))
    try:
        return list(stanzas.stanzas_of(compressed.chunks(path, deadline.tick), PACKAGE))
    except compressed.NotReadHere:
        return _through_helper(root, path, deadline)


def offered_versions(root: Path, timeout: float, stop: threading.Event | None = None) -> list[str]:
    """Every version of ca-certificates in the lists on disk.

    Empty when there are none, none can be read, or they were not all read within ``timeout`` or before
    ``stop`` was set: a version in a list left unread could be the newest.
    """
    deadline = _Deadline(timeout, stop)
    versions: list[str] = []
    for path in list_files(root):
        try:
            found = _read(root, path, deadline)
        except TimeoutError:
            return []
        except (OSError, subprocess.SubprocessError):
            continue
        for stanza in found:
            match = re.search(rb"^Version: (\S+)", stanza, re.MULTILINE)
            if match:
                versions.append(match.group(1).decode("ascii", "replace"))
    return versions


# --- dpkg's version order ---------------------------------------------------------------------------------------


def _text_key(text: str) -> list[int]:
    """dpkg's order of the non-digit parts: ``~`` before the end, the end before letters, letters before the rest."""
    return [-1 if char == "~" else ord(char) if char.isalpha() else ord(char) + 256 for char in text] + [0]


def _compare_part(left: str, right: str) -> int:
    """Upstream version or Debian revision: non-digit runs by dpkg's order, digit runs as numbers."""
    left_runs, right_runs = re.findall(r"(\D*)(\d*)", left), re.findall(r"(\D*)(\d*)", right)
    length = max(len(left_runs), len(right_runs))
    left_runs += [("", "")] * (length - len(left_runs))
    right_runs += [("", "")] * (length - len(right_runs))
    for (left_text, left_number), (right_text, right_number) in zip(left_runs, right_runs):
        keys = (_text_key(left_text), _text_key(right_text))
        numbers = (int(left_number or 0), int(right_number or 0))
        for first, second in (keys, numbers):
            if first != second:
                return -1 if first < second else 1  # type: ignore[operator]
    return 0


def _split(version: str) -> tuple[int, str, str]:
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    return int(epoch or 0), upstream, revision


def compare(left: str, right: str) -> int:
    """Negative, zero or positive, as ``dpkg --compare-versions`` orders the two."""
    left_epoch, left_upstream, left_revision = _split(left)
    right_epoch, right_upstream, right_revision = _split(right)
    return (
        (left_epoch - right_epoch)
        or _compare_part(left_upstream, right_upstream)
        or _compare_part(left_revision, right_revision)
    )


def newest(versions: list[str]) -> str:
    return max(versions, key=cmp_to_key(compare))
