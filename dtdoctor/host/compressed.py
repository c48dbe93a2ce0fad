"""apt's compressed package lists, decompressed in process the way apt reads them.

``Acquire::GzipIndexes`` keeps ``/var/lib/apt/lists/*_Packages`` compressed
(``.lz4`` on Debian 12, ``.gz``, ``.xz``). apt reads them through its own
libraries, and so does this module, in bounded chunks (at most 256 KiB of
output at a time), so a list of 50 MB never sits in memory:

- ``.gz``: zlib, as apt's ``gzread``: member after member; data after a
  member that is not another gzip member is ignored, as zlib ignores
  trailing garbage;
- ``.xz``: liblzma through Python's ``lzma``: the first stream, as apt
  reads it (``apt-helper cat-file`` ignores what follows);
- ``.lz4``: liblz4's frame API (``host/lz4frame.py``): the first frame.

Whatever these do not read exactly as apt would (another suffix such as
``.zst`` or ``.bz2``, a ``.gz`` file that is not gzip, which zlib reads as
plain text, a missing library, a library error, a file that ends early, a
Python built without ctypes) raises ``NotReadHere``: the caller asks
``apt-helper cat-file`` instead, so the answer is apt's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Callable, Generator, Iterator, Union

# Bytes per read of a list, and decompressed bytes per call, for every reader of the lists (a pipe gives at
# most its own buffer, 64 KiB): 256 KiB cost a seventh less CPU time than 64 KiB on a 50 MB plain list, and at
# 64 KiB the Python round per chunk cost a fifth more for Debian 12's lz4 lists.
CHUNK = 1 << 18
_GZIP_MAGIC = b"\x1f\x8b"

Tick = Callable[[], None]
# Bytes, or a view of a reused buffer that holds them until the next chunk is asked for.
Chunk = Union[bytes, memoryview]


class NotReadHere(Exception):
    """This list is not read in process: apt-helper must read it."""


def chunks(path: Path, tick: Tick) -> Iterator[Chunk]:
    """The decompressed text of one list, chunk by chunk; ``tick`` runs before every read.

    ``NotReadHere`` (possibly after some chunks: the caller starts again with
    apt-helper) when this module cannot read it as apt does; ``OSError`` when
    the file cannot be opened at all.
    """
    reader = _READERS.get(path.suffix)
    if reader is None:
        raise NotReadHere(f"no in-process reader for {path.suffix or 'this file'}")
    with path.open("rb") as handle:
        yield from reader(handle, tick)


def _lz4(handle: IO[bytes], tick: Tick) -> Iterator[Chunk]:
    try:
        from dtdoctor.host import lz4frame
    except ImportError as error:  # ctypes: a Python built without libffi has none
        raise NotReadHere(f"lz4: {error}") from error
    try:
        yield from lz4frame.decompress(handle, tick)
    except lz4frame.LZ4Error as error:
        raise NotReadHere(f"lz4: {error}") from error


def _xz(handle: IO[bytes], tick: Tick) -> Iterator[bytes]:
    try:
        import lzma
    except ImportError as error:  # a Python built without liblzma
        raise NotReadHere("no lzma module") from error
    decompressor = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    try:
        while not decompressor.eof:
            data = b""
            if decompressor.needs_input:
                tick()
                data = handle.read(CHUNK)
                if not data:
                    raise NotReadHere("xz: the file ends before its stream does")
            output = decompressor.decompress(data, CHUNK)
            if output:
                yield output
    except lzma.LZMAError as error:
        raise NotReadHere(f"xz: {error}") from error


def _gzip(handle: IO[bytes], tick: Tick) -> Iterator[bytes]:
    import zlib

    tick()
    data = handle.read(CHUNK)
    if not data.startswith(_GZIP_MAGIC):
        raise NotReadHere("gzip: not a gzip file (zlib would read it as it is)")
    try:
        while data.startswith(_GZIP_MAGIC):
            data = yield from _gzip_member(data, handle, tick)
            if len(data) < len(_GZIP_MAGIC):
                tick()
                data += handle.read(CHUNK)
    except zlib.error as error:
        raise NotReadHere(f"gzip: {error}") from error


def _gzip_member(data: bytes, handle: IO[bytes], tick: Tick) -> Generator[bytes, None, bytes]:
    """One gzip member, from its header in ``data`` on; returns the data read after its end."""
    import zlib

    decompressor = zlib.decompressobj(31)  # 16 + 15: a gzip header and trailer, the largest window
    while not decompressor.eof:
        if not data:
            tick()
            data = handle.read(CHUNK)
        output = decompressor.decompress(data, CHUNK)
        if output:
            yield output
        elif not data:  # nothing more to read and nothing held back
            raise NotReadHere("gzip: the file ends before its member does")
        data = decompressor.unconsumed_tail
    return decompressor.unused_data


_READERS: dict[str, Callable[[IO[bytes], Tick], Iterator[Chunk]]] = {".lz4": _lz4, ".xz": _xz, ".gz": _gzip}
