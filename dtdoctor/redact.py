"""The one boundary secrets never cross.

Everything dtdoctor prints or writes (console, every report format, files in
the support bundle, log lines, error messages, tracebacks) passes through a
``Redactor``: the CLI wraps stdout and stderr in ``RedactingStream`` and every
report file is written through ``Redactor.scrub``. Checks may therefore
carry raw evidence (a server that echoes the token back) without leaking it.

What is removed:
- any Dynatrace token anywhere in the text, shown as ``<prefix>.<public>.<redacted>``;
- the user information of every URL (``scheme://user:password@``, or a user
  alone), shown as ``scheme://<credentials>@``: proxy, environment and
  ActiveGate URLs alike, wherever they appear;
- every registered secret (the token's secret part, a malformed token's text,
  passwords in proxy and Dynatrace URLs and their Basic credentials), in any
  letter case, URL-encoded or HTML-escaped, and any run of 12 or more
  characters of one, so a truncated or re-cased echo cannot leak part of a
  secret either.

Values shorter than 8 characters are not removed: ``pass`` or ``null``
would rewrite every ``"status": "pass"`` and corrupt the JSON, and a value
that short is no token. dtdoctor never prints a password itself (URLs are
shown with ``<credentials>@``); the redactor is the net for echoes.
``<credentials>`` itself is never a secret.

In markup (HTML, XML) the replacement is written escaped, so a redaction
never breaks the document it lands in.
"""

from __future__ import annotations

import html
import io
import re
import threading
from typing import Any, Iterable
from urllib.parse import quote, unquote

REDACTED = "<redacted>"
REDACTED_IN_MARKUP = html.escape(REDACTED)
_FRAGMENT = 12  # a run of this many characters of a secret counts as the secret
_MIN_SECRET = 8  # shorter values would shred ordinary text; they are not secrets worth the name
_ANY_TOKEN = re.compile(r"\b(dt0[a-zA-Z][0-9]{2}\.[A-Za-z0-9]{8,24})\.[A-Za-z0-9]{16,}")
CREDENTIALS = "<credentials>"
# A URL's user information: after ``scheme://``, up to the last ``@`` before the path, query or fragment
# (a password may hold an unescaped ``@``). ``<`` and quotes end it: they end a URL in text, and the
# shown ``<credentials>`` is not user information.
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#<>\"'`]+@")


def hide_userinfo(text: str, markup: bool = False) -> str:
    """``text`` with the user information of every URL in it shown as ``<credentials>``."""
    shown = html.escape(CREDENTIALS) if markup else CREDENTIALS

    def hidden(match: re.Match[str]) -> str:
        userinfo = match.group(0)[len(match.group(1)) : -1]
        # The placeholder escaped by a renderer (``-f junit`` or ``-f html`` on stdout, which this does not know
        # to be markup) stays as it is: written raw, ``<`` would break the document.
        if html.unescape(html.unescape(userinfo)) == CREDENTIALS:
            return match.group(0)
        return f"{match.group(1)}{shown}@"

    return _USERINFO.sub(hidden, text)


class Redactor:
    """Removes secrets from text. Thread-safe; secrets can be added at any time."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._grams: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register a secret; its URL-encoded and decoded forms are registered too."""
        if not secret:
            return
        # surrogateescape: a value from the environment may hold undecodable bytes (a lone surrogate).
        forms = {secret, quote(secret, safe="", errors="surrogateescape"), unquote(secret), html.escape(secret)}
        with self._lock:
            for form in (form.lower() for form in forms):
                if len(form) >= _MIN_SECRET and form not in self._secrets:
                    self._secrets.add(form)
                    self._grams.update(form[i : i + _FRAGMENT] for i in range(len(form) - _FRAGMENT + 1))
            self._pattern = None

    def _compiled(self) -> tuple[re.Pattern[str] | None, set[str]]:
        """The pattern of secrets and their fragments, built once after each ``add``."""
        with self._lock:
            if self._pattern is None and self._secrets:
                # Longest first so a whole secret wins over its fragments.
                alternatives = sorted(self._secrets | self._grams, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(item) for item in alternatives), re.IGNORECASE)
            return self._pattern, self._grams

    def scrub(self, text: str, markup: bool = False) -> str:
        """``text`` without secrets; ``markup``: it is HTML or XML, so the replacement is escaped."""
        if not text:
            return text
        replacement = REDACTED_IN_MARKUP if markup else REDACTED
        text = hide_userinfo(_ANY_TOKEN.sub(lambda match: f"{match.group(1)}.{replacement}", text), markup)
        pattern, grams = self._compiled()
        if pattern is None:
            return text
        out: list[str] = []
        position = 0
        while True:
            match = pattern.search(text, position)
            if match is None:
                break
            end = match.end()
            # Extend over the rest of a secret fragment that continues past the match.
            if len(match.group(0)) >= _FRAGMENT:
                while end < len(text) and text[end - _FRAGMENT + 1 : end + 1].lower() in grams:
                    end += 1
            out.append(text[position : match.start()])
            out.append(replacement)
            position = end
        out.append(text[position:])
        return "".join(out)


class RedactingStream(io.TextIOBase):
    """A text stream that scrubs whole lines before they reach the real stream.

    It buffers up to a newline so a secret split across two writes is still
    caught; ``flush`` writes a pending partial line (a progress line).
    """

    def __init__(self, target: Any, redactor: Redactor) -> None:
        super().__init__()
        self._target = target
        self._redactor = redactor
        self._pending = ""
        self._released = False  # closed: the real stream is no longer ours to flush
        self._lock = threading.Lock()

    @property
    def target(self) -> object:
        return self._target

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return bool(getattr(self._target, "isatty", lambda: False)())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._target, "encoding", None) or "utf-8")

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                complete, self._pending = self._pending.rsplit("\n", 1)
                self._emit(complete + "\n")
        return len(text)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, ""  # never retried if the write fails
            if self._released:
                return
            if pending:
                self._emit(pending)
            getattr(self._target, "flush", lambda: None)()

    def close(self) -> None:
        """Write what is pending, then let go of the real stream without closing it.

        Called at garbage collection too, when the real stream may already be
        closed (a finished test runner, a closed pipe): that is not an error.
        """
        try:
            self.flush()
        except (OSError, ValueError):
            pass
        self._released = True
        super().close()

    def _emit(self, text: str) -> None:
        self._target.write(self._redactor.scrub(text))
