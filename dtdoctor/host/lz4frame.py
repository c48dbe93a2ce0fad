"""LZ4 frames decompressed in process by liblz4, the library apt itself reads ``.lz4`` package lists with.

The library is loaded by its soname, ``liblz4.so.1``, the name apt's
``libapt-pkg`` is linked against (Debian's ``liblz4-1``), so the dynamic
loader picks the same file apt uses. Only the frame API of ``lz4frame.h``
is called (the lz4 repository, ``lib/lz4frame.h``):

- ``LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)`` with
  ``LZ4F_VERSION`` 100, freed by ``LZ4F_freeDecompressionContext``;
- ``LZ4F_decompress(dctx, dst, &dstSize, src, &srcSize, NULL)``: decodes up
  to ``srcSize`` bytes into ``dst`` of capacity ``dstSize`` and writes back
  how many it read and wrote; "Number of bytes read can be < number of bytes
  provided" when ``dst`` is full, and the rest must be presented again. It
  returns a hint of the bytes it expects next, 0 "when a frame is fully
  decoded", or an error code that ``LZ4F_isError`` recognises
  (``LZ4F_getErrorName`` names it).

A frame (``doc/lz4_Frame_format.md``: magic number, frame descriptor, data
blocks, end mark, optional checksum) is decoded block by block into a fixed
buffer, so memory stays bounded by the buffers and the context (at most one
4 MB block), whatever the list's size. apt reads one frame and stops at its
end, data after it unread (``apt-helper cat-file`` prints the first frame of
two concatenated ones, and nothing for a file that starts with a skippable
frame): so does ``decompress``. ctypes releases the GIL during each call.
"""

from __future__ import annotations

import ctypes
import threading
from typing import IO, Any, Callable, Iterator

from dtdoctor.host.compressed import CHUNK

SONAME = "liblz4.so.1"
LZ4F_VERSION = 100
# Compressed bytes read per file read, and decompressed bytes per call: both reused buffers.
_IN = _OUT = CHUNK

_loaded: list[Any] = []
_lock = threading.Lock()


class LZ4Error(Exception):
    """liblz4 is missing here, or reported an error, or the frame ended early."""


def _bind(library: Any) -> Any:
    size_p = ctypes.POINTER(ctypes.c_size_t)
    library.LZ4F_createDecompressionContext.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_uint]
    library.LZ4F_createDecompressionContext.restype = ctypes.c_size_t
    library.LZ4F_freeDecompressionContext.argtypes = [ctypes.c_void_p]
    library.LZ4F_freeDecompressionContext.restype = ctypes.c_size_t
    library.LZ4F_decompress.argtypes = [ctypes.c_void_p, ctypes.c_void_p, size_p, ctypes.c_void_p, size_p,
                                        ctypes.c_void_p]
    library.LZ4F_decompress.restype = ctypes.c_size_t
    library.LZ4F_isError.argtypes = [ctypes.c_size_t]
    library.LZ4F_isError.restype = ctypes.c_uint
    library.LZ4F_getErrorName.argtypes = [ctypes.c_size_t]
    library.LZ4F_getErrorName.restype = ctypes.c_char_p
    return library


def library() -> Any:
    """liblz4, loaded once per process; ``LZ4Error`` when it is not there or lacks the frame API."""
    with _lock:
        if not _loaded:
            try:
                _loaded.append(_bind(ctypes.CDLL(SONAME)))
            except (OSError, AttributeError) as error:
                raise LZ4Error(f"{SONAME}: {error}") from error
        return _loaded[0]


def _checked(lib: Any, code: int) -> int:
    if lib.LZ4F_isError(code):
        name = lib.LZ4F_getErrorName(code) or b"unknown error"
        raise LZ4Error(name.decode("ascii", "replace"))
    return code


def decompress(handle: IO[bytes], tick: Callable[[], None] = lambda: None) -> Iterator[memoryview]:
    """The first frame of ``handle``, decompressed, in chunks of at most 256 KiB.

    Each chunk is a view of one reused buffer: it holds its bytes until the next chunk is asked for.
    ``LZ4Error`` when the library fails, the data is no LZ4 frame, or the
    file ends before the frame does. ``tick`` is called before every read
    (a deadline raises from it).
    """
    lib = library()
    context = ctypes.c_void_p()
    _checked(lib, lib.LZ4F_createDecompressionContext(ctypes.byref(context), LZ4F_VERSION))
    try:
        yield from _frame(lib, context, handle, tick)
    finally:
        lib.LZ4F_freeDecompressionContext(context)


def _frame(lib: Any, context: ctypes.c_void_p, handle: IO[bytes], tick: Callable[[], None]) -> Iterator[memoryview]:
    source, target = bytearray(_IN), bytearray(_OUT)
    # The ctypes views hold the buffers in place (a bytearray with an export cannot be resized) while liblz4
    # is given their addresses.
    source_array, target_array = (ctypes.c_char * _IN).from_buffer(source), (ctypes.c_char * _OUT).from_buffer(target)
    source_address, target_address = ctypes.addressof(source_array), ctypes.addressof(target_array)
    target_view = memoryview(target)
    read, written = ctypes.c_size_t(), ctypes.c_size_t()
    while True:
        tick()
        filled = handle.readinto(source)  # type: ignore[attr-defined]
        if not filled:
            raise LZ4Error("the file ends before its LZ4 frame does")
        offset = 0
        # Until the chunk is used up and the last call left no decoded byte behind (it filled less than dst).
        while offset < filled or written.value == _OUT:
            read.value, written.value = filled - offset, _OUT
            hint = _checked(lib, lib.LZ4F_decompress(context, target_address, ctypes.byref(written),
                                                     source_address + offset, ctypes.byref(read), None))
            if written.value:
                yield target_view[: written.value]
            if hint == 0:  # the frame is complete: apt reads no further
                return
            if offset < filled and not (read.value or written.value):
                raise LZ4Error("liblz4 took no input and gave no output")
            offset += read.value
