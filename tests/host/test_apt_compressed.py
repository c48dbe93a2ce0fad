"""Compressed package lists read in process find exactly what ``apt-helper cat-file`` finds.

Lists are compressed with the real tools (``lz4``, ``gzip``, ``xz``, ``zstd``:
.ci/truststore-fixtures installs them) and this machine's own lists are read
too; apt's own ``apt-helper`` is the reference every answer is compared with.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from dtdoctor.host import apt_lists, compressed, lz4frame
from tests.support.ca_packages import unavailable

HELPER = "/usr/lib/apt/apt-helper"
LIST = "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
COMPRESSORS = {".lz4": ["lz4", "-q", "-c"], ".gz": ["gzip", "-c"], ".xz": ["xz", "-c"], ".zst": ["zstd", "-q", "-c"]}


def require(*tools: str) -> None:
    """Skip where a tool is missing here; CI installs them (.ci/truststore-fixtures) and fails instead."""
    if not Path(HELPER).exists():
        unavailable("apt is not installed (apt-helper is the reference)")
    for tool in tools:
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (apt-get install lz4 gzip xz-utils zstd)")


def stanza(package: str, version: str, filler: int = 0) -> str:
    description = "".join(f" line {n} of a long description; Package: {package}\n" for n in range(filler))
    return (f"Package: {package}\nVersion: {version}\nArchitecture: all\nDepends: ca-certificates\n"
            f"Description: a package\n{description}\n")


def a_list(count: int = 6000) -> str:
    """Some 2 MB of stanzas: ca-certificates first, cut by chunk ends at various offsets, and last without
    the closing blank line; look-alikes (``ca-certificates-java``, the name in a description) around them."""
    parts = [stanza("ca-certificates", "20230311+deb12u1")]
    for number in range(count):
        parts.append(stanza(f"package{number}", f"1.{number}", filler=number % 9))
        if number % 997 == 0:
            parts.append(stanza("ca-certificates-java", f"{number}"))
            parts.append(stanza("ca-certificates", f"20250419~deb12u{number}", filler=number % 5))
    parts.append(stanza("ca-certificates", "99.0").rstrip("\n") + "\n")
    return "".join(parts)


def compress(text: bytes, suffix: str) -> bytes:
    return subprocess.run(COMPRESSORS[suffix], input=text, capture_output=True, check=True).stdout


def helper_output(path: Path) -> bytes:
    return subprocess.run([HELPER, "cat-file", str(path)], capture_output=True, check=False).stdout


def versions_in(text: bytes) -> list[str]:
    """The ca-certificates versions in a list's text, read stanza by stanza (independently of dtdoctor)."""
    found = []
    for block in text.split(b"\n\n"):
        fields = dict(line.split(b": ", 1) for line in block.strip(b"\n").split(b"\n")
                      if b": " in line and not line.startswith(b" "))
        if fields.get(b"Package") == b"ca-certificates":
            found.append(fields[b"Version"].decode())
    return found


def lists_root(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "var/lib/apt/lists"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return tmp_path


def in_process(path: Path) -> bytes:
    return b"".join(bytes(chunk) for chunk in compressed.chunks(path, lambda: None))


@pytest.mark.parametrize("suffix", [".lz4", ".gz", ".xz"])
def test_a_list_compressed_by_the_real_tool_is_decompressed_as_apt_does(tmp_path: Path, suffix: str) -> None:
    require(COMPRESSORS[suffix][0])
    text = a_list().encode()
    root = lists_root(tmp_path, {LIST + suffix: compress(text, suffix)})
    path = root / "var/lib/apt/lists" / (LIST + suffix)
    chunks = [len(chunk) for chunk in compressed.chunks(path, lambda: None)]
    assert max(chunks) <= 1 << 18 and sum(chunks) == len(text)  # streamed in bounded pieces
    assert in_process(path) == helper_output(path) == text
    expected = versions_in(text)
    assert len(expected) == 9
    assert apt_lists.offered_versions(root, 10) == expected


def test_zstd_and_other_formats_are_left_to_apt_helper(tmp_path: Path) -> None:
    require("zstd")
    text = a_list(2000).encode()
    root = lists_root(tmp_path, {LIST + ".zst": compress(text, ".zst")})
    with pytest.raises(compressed.NotReadHere):
        in_process(root / "var/lib/apt/lists" / (LIST + ".zst"))
    assert apt_lists.offered_versions(root, 10) == versions_in(text) != []


def two(suffix: str) -> tuple[bytes, bytes]:
    """Two small lists, each compressed on its own (frames, members or streams to put one after the other)."""
    return tuple(compress(stanza("ca-certificates", version).encode(), suffix) for version in "12")  # type: ignore


def odd_files() -> dict[str, bytes]:
    """Files apt reads in its own way: only the first LZ4 frame or xz stream, every gzip member, trailing
    garbage ignored, a skippable frame that ends the read; truncated, corrupt and empty ones."""
    (lz4_one, lz4_two), (gz_one, gz_two), (xz_one, xz_two) = two(".lz4"), two(".gz"), two(".xz")
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"skip"
    big = compress(a_list(3000).encode(), ".lz4")
    corrupt = bytearray(big)
    corrupt[len(big) // 2 : len(big) // 2 + 64] = bytes(64)
    return {
        "two-frames": lz4_one + lz4_two, "skippable-first": skippable + lz4_one, "lz4-garbage": lz4_one + b"junk\n",
        "lz4-truncated": big[: len(big) // 2], "lz4-corrupt": bytes(corrupt), "lz4-empty": b"",
        "lz4-plain": stanza("ca-certificates", "3").encode(),
        "two-members.gz": gz_one + gz_two, "gz-garbage.gz": gz_one + b"junk\n", "gz-truncated.gz": gz_one[:-12],
        "gz-plain.gz": stanza("ca-certificates", "4").encode(), "gz-empty.gz": b"",
        "two-streams.xz": xz_one + xz_two, "xz-garbage.xz": xz_one + b"junk\n", "xz-truncated.xz": xz_one[:-10],
    }


# The odd files whose reading is apt's own rule, not a failure: the in-process readers must follow it.
READ_IN_PROCESS = ("two-frames", "skippable-first", "lz4-garbage", "two-members.gz", "gz-garbage.gz",
                   "two-streams.xz", "xz-garbage.xz")


def test_odd_and_broken_files_give_what_apt_helper_gives(tmp_path: Path) -> None:
    require("lz4", "gzip", "xz")
    for name, data in odd_files().items():
        suffix = ".lz4" if "." not in name else name[name.index(".") :]
        root = lists_root(tmp_path / name, {f"{LIST}{suffix}": data})
        path = root / "var/lib/apt/lists" / f"{LIST}{suffix}"
        assert apt_lists.offered_versions(root, 10) == versions_in(helper_output(path)), name
        if name in READ_IN_PROCESS:  # well-formed in apt's own way: never left to apt-helper
            assert in_process(path) == helper_output(path), name
            continue
        try:
            text = in_process(path)
        except compressed.NotReadHere:
            continue  # apt-helper read it instead
        assert text == helper_output(path), name


def test_without_liblz4_apt_helper_reads_the_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require("lz4")
    text = a_list(1000).encode()
    root = lists_root(tmp_path, {LIST + ".lz4": compress(text, ".lz4")})
    monkeypatch.setattr(lz4frame, "SONAME", "liblz4-not-installed.so.1")
    monkeypatch.setattr(lz4frame, "_loaded", [])
    with pytest.raises(lz4frame.LZ4Error):
        lz4frame.library()
    assert apt_lists.offered_versions(root, 10) == versions_in(text) != []


def test_past_the_timeout_the_answer_is_unknown(tmp_path: Path) -> None:
    """A list left unread could hold the newest version: no partial answer."""
    require("lz4")
    text = a_list(100).encode()
    root = lists_root(tmp_path, {"a_Packages": text, LIST + ".lz4": compress(text, ".lz4")})
    assert apt_lists.offered_versions(root, 10) != []
    assert apt_lists.offered_versions(root, 0) == []


def test_this_machines_compressed_lists_read_in_process_are_apt_helpers_text() -> None:
    paths = [path for path in apt_lists.list_files(Path("/")) if path.suffix in (".lz4", ".gz", ".xz")]
    if not paths or not Path(HELPER).exists():
        pytest.skip("this machine keeps no compressed package lists (Acquire::GzipIndexes)")
    for path in paths:
        ours, theirs = hashlib.sha256(), hashlib.sha256()
        for chunk in compressed.chunks(path, lambda: None):
            ours.update(chunk)
        with subprocess.Popen([HELPER, "cat-file", str(path)], stdout=subprocess.PIPE) as process:
            assert process.stdout is not None
            for block in iter(lambda: process.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
                theirs.update(block)
        assert ours.hexdigest() == theirs.hexdigest(), path
    texts = [helper_output(path) if path.suffix else path.read_bytes() for path in apt_lists.list_files(Path("/"))]
    assert apt_lists.offered_versions(Path("/"), 10) == [version for text in texts for version in versions_in(text)]


WITHOUT_CTYPES = """
import sys
from pathlib import Path
sys.modules["ctypes"] = None  # as on a Python built without libffi: `import ctypes` raises ImportError
from dtdoctor.host import apt_lists
print(",".join(apt_lists.offered_versions(Path(sys.argv[1]), 10)))
"""


def test_on_a_python_without_ctypes_apt_helper_reads_the_list(tmp_path: Path) -> None:
    """A Python built without libffi has no ctypes: the lists are read by apt-helper, not the check crashed."""
    require("lz4")
    text = a_list(1000).encode()
    root = lists_root(tmp_path, {LIST + ".lz4": compress(text, ".lz4"), "plain_Packages": text})
    done = subprocess.run([sys.executable, "-c", WITHOUT_CTYPES, str(root)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [",".join(versions_in(text) * 2)]
