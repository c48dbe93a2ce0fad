"""One package's stanzas found in a package list of tens of megabytes, read chunk by chunk.

A list is one RFC 822 stanza per package, stanzas separated by an empty
line; the package's stanzas start with ``Package: NAME`` on a line of its
own. Nearly every chunk holds none of them: a chunk is searched for the
marker where it lies (libc's ``memmem``, which runs without the GIL, else
``bytes.find``, as on a Python built without ctypes) and only the few chunks
around a stanza are copied and cut.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Iterator, Union

Chunk = Union[bytes, bytearray, memoryview]

_memmem: list[Any] = []
_lock = threading.Lock()


def _libc_memmem() -> Any:
    """libc's ``memmem(haystack, haystacklen, needle, needlelen)``, None where it cannot be called."""
    with _lock:
        if not _memmem:
            try:
                import ctypes  # missing where Python was built without libffi

                function = ctypes.CDLL(None).memmem
                function.restype = ctypes.c_void_p
                function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
            except (ImportError, OSError, TypeError, AttributeError):
                function = None
            _memmem.append(function)
        return _memmem[0]


def holds(chunk: Chunk, marker: bytes) -> bool:
    """Whether ``marker`` occurs in ``chunk``."""
    memmem = _libc_memmem()
    if memmem is None or not chunk or (not isinstance(chunk, bytes) and memoryview(chunk).readonly):
        return bytes(chunk).find(marker) >= 0
    import ctypes  # loaded by _libc_memmem

    # bytes pass as a pointer to their own buffer; a writable buffer is looked at where it lies.
    where = chunk if isinstance(chunk, bytes) else (ctypes.c_char * len(chunk)).from_buffer(chunk)
    return bool(memmem(where, len(chunk), marker, len(marker)))


def _cut(buffer: bytes, marker: bytes, ended: bool) -> tuple[list[bytes], bytes, bool]:
    """The whole stanzas of ``buffer``, what must be kept for the next chunk, and whether a stanza is open."""
    found: list[bytes] = []
    position = 0
    while True:
        start = buffer.find(marker, position)
        end = buffer.find(b"\n\n", start + 1) if start >= 0 else -1
        if start < 0:
            # What may be the start of a marker the next chunk completes.
            return found, buffer[max(position, len(buffer) - len(marker)) :], False
        if end < 0 and not ended:
            return found, buffer[start:], True  # a stanza the chunk cut
        stop = end if end >= 0 else len(buffer)
        found.append(buffer[start + 1 : stop])
        position = stop


def stanzas_of(chunks: Iterable[Chunk], package: str) -> Iterator[bytes]:
    """The stanzas of ``package`` in a list given as chunks (each is used before the next is asked for)."""
    marker = f"\nPackage: {package}\n".encode()
    kept, open_stanza = b"\n", False
    for chunk in chunks:
        head = bytes(chunk[: len(marker)])
        if not open_stanza and not holds(kept + head, marker) and not holds(chunk, marker):
            kept = (kept + bytes(chunk[-len(marker) :]))[-len(marker) :]
            continue
        found, kept, open_stanza = _cut(kept + bytes(chunk), marker, ended=False)
        yield from found
    yield from _cut(kept, marker, ended=True)[0]
