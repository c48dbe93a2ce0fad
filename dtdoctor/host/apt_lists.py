"""The versions of one package that apt's package lists on disk offer, read without building apt's cache.

``apt-cache policy`` builds its whole cache in memory when the cache file is
disabled (as container images do): about a second on a small machine, and
tens of megabytes. The lists themselves (``/var/lib/apt/lists/*_Packages``,
one RFC 822 stanza per package, as ``apt-get update`` stores them) are read
here: plain files directly, compressed ones (``.lz4``, ``.gz``, ``.xz``, as
``Acquire::GzipIndexes`` keeps them) through ``apt-helper cat-file``, which
decompresses whatever apt itself wrote. Versions are compared as dpkg does
(Debian Policy 5.6.12). No network, nothing written.
"""

from __future__ import annotations

import re
import subprocess
from functools import cmp_to_key
from pathlib import Path
from typing import IO, Iterator

APT_HELPER = "usr/lib/apt/apt-helper"
# 64 KiB, a pipe's own buffer: larger reads copy more per search (1 MiB doubled the CPU time of a scan).
_CHUNK = 1 << 16


def list_files(root: Path) -> list[Path]:
    folder = root / "var/lib/apt/lists"
    try:
        names = sorted(path for path in folder.iterdir() if path.is_file())
    except OSError:
        return []
    return [path for path in names if re.search(r"_Packages(\.\w+)?$", path.name)]


def _stanzas_of(stream: IO[bytes], package: str) -> Iterator[bytes]:
    """The stanzas of ``package`` in a list, found with ``bytes.find`` chunk by chunk (lists are large)."""
    marker = f"\nPackage: {package}\n".encode()
    buffer, ended = b"\n", False
    while not ended:
        chunk = stream.read(_CHUNK)
        ended = not chunk
        buffer += chunk
        position = 0
        while True:
            start = buffer.find(marker, position)
            end = buffer.find(b"\n\n", start + 1) if start >= 0 else -1
            if start < 0 or (end < 0 and not ended):
                # Keep what may be the start of a marker, or a stanza the chunk cut.
                buffer = buffer[start:] if start >= 0 else buffer[max(position, len(buffer) - len(marker)) :]
                break
            stop = end if end >= 0 else len(buffer)
            yield buffer[start + 1 : stop]
            position = stop


def _open(root: Path, path: Path, timeout: float) -> list[bytes]:
    if not re.search(r"\.\w+$", path.name.split("_Packages")[-1]):
        with path.open("rb") as handle:
            return list(_stanzas_of(handle, "ca-certificates"))
    helper = root / APT_HELPER
    if not helper.exists():
        helper = Path("/") / APT_HELPER
    with subprocess.Popen([str(helper), "cat-file", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        try:
            return list(_stanzas_of(process.stdout, "ca-certificates"))
        finally:
            process.stdout.close()
            process.wait(timeout=timeout)


def offered_versions(root: Path, timeout: float) -> list[str]:
    """Every version of ca-certificates in the lists on disk (empty when there are none or none can be read)."""
    versions: list[str] = []
    for path in list_files(root):
        try:
            stanzas = _open(root, path, timeout)
        except (OSError, subprocess.SubprocessError):
            continue
        for stanza in stanzas:
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
