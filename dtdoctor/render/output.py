"""Writing reports: files atomically and always through the redactor; stdout for a reader that may leave."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping

from dtdoctor.redact import Redactor


def report_path(text: str, suffixes: Mapping[str, str], what: str) -> tuple[Path, str]:
    """An output path and the format its suffix names; raises ``ValueError`` with one line."""
    path = Path(text).expanduser()
    fmt = suffixes.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(suffixes))
        raise ValueError(f"cannot tell the format of {what} {text!r} from its suffix (use {known})")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"folder for {what} {text!r} does not exist")
    return path, fmt


# Files whose text is markup: a redaction inside them is written escaped.
MARKUP_SUFFIXES = (".html", ".htm", ".xml")
# The same for stdout, by format: its stream scrubs as plain text, so markup is scrubbed escaped before.
MARKUP_FORMATS = ("html", "junit")


def write_atomic(path: Path, content: str | bytes, redactor: Redactor | None = None) -> None:
    """Write via a temporary file in the same folder and a rename.

    A reader (a textfile collector, a browser, a CI server) never sees a
    half-written file. Text passes through the redactor first.
    """
    import tempfile  # only runs that write files pay for it

    if isinstance(content, str):
        markup = Path(path).suffix.lower() in MARKUP_SUFFIXES
        # Text from the environment or a server may carry lone surrogates (undecodable bytes): never a crash.
        data = (redactor.scrub(content, markup) if redactor else content).encode("utf-8", "replace")
    else:
        data = content
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:  # the user asked for ``path``: the temporary file's name would only confuse
        raise OSError(error.errno, error.strerror, str(path)) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_stdout(text: str) -> None:
    """Write a command's output; a reader that leaves early (`| head`) ends the output, not the command.

    The command goes on (report files, the bundle) and its exit code still carries its verdict.
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        silence(getattr(sys.stdout, "target", sys.stdout))


def silence(stream: Any) -> None:
    """Point ``stream``'s file descriptor at /dev/null, so no later flush fails on a closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test runner's buffer): nothing to protect
