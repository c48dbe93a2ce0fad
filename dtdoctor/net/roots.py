"""What a trust store holds, compared with Mozilla's list as certifi ships it.

Roots are matched by the SHA-256 fingerprint of their DER bytes, the way the
CCADB and Mozilla's own lists identify them. Four groups come out:

- ``missing``: in Mozilla's list, not in the system store;
- ``expired``: in the system store, past their ``notAfter``;
- ``removed``: in the system store, not in Mozilla's list any more, and not
  added on this host (a root Mozilla removed, often for distrust);
- ``local``: in the system store and in a folder where administrators add
  their own CAs (``/usr/local/share/ca-certificates``, ``/etc/pki/ca-trust/source/anchors``,
  ``/etc/pki/trust/anchors``): the host's own choice, not a defect.
"""

from __future__ import annotations

import binascii
import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from dtdoctor.net.certs import fingerprint, iso, root_facts

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
_HASH_NAME = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")

# Where each family's administrators put their own CAs (the packages' documentation:
# Debian's update-ca-certificates(8), RHEL's update-ca-trust(8), SUSE's update-ca-certificates(8)).
LOCAL_ANCHORS = ("/usr/local/share/ca-certificates", "/etc/pki/ca-trust/source/anchors", "/etc/pki/trust/anchors")


@dataclass(frozen=True)
class Root:
    """One root as a reader needs it: who, which exactly, until when."""

    subject: str
    sha256: str
    not_after: datetime.datetime

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "sha256": self.sha256, "not_after": iso(self.not_after)}


def der_certificates(data: bytes) -> list[bytes]:
    """Every PEM certificate in ``data`` as DER (what ``openssl`` and ``update-ca-certificates`` write).

    As ``ssl.PEM_cert_to_DER_cert`` decodes each block (``binascii.a2b_base64``, which skips whitespace),
    without building the block as text first; a block that is not ASCII or not base64 is left out.
    """
    found = []
    start = data.find(_BEGIN)
    while start >= 0:
        body = start + len(_BEGIN)
        end = data.find(_END, body)
        if end < 0:
            break
        if not data[body : body + 1].isspace():  # not a PEM header: look for the next one
            start = data.find(_BEGIN, start + 1)
            continue
        block = data[body:end]
        try:
            if block.isascii():
                found.append(binascii.a2b_base64(block))
        except binascii.Error:
            pass
        start = data.find(_BEGIN, end + len(_END))
    return found


def roots_of(ders: Iterable[bytes], reuse: Mapping[str, Root] | None = None) -> dict[str, Root]:
    """Parsed roots by fingerprint; unreadable certificates are left out, duplicates count once.

    A root already parsed in ``reuse`` (the system store, when certifi's bundle is read after it: most roots
    are in both) is taken from there: the same DER bytes, the same fingerprint, the same facts.
    """
    found: dict[str, Root] = {}
    for der in ders:
        sha256 = fingerprint(der)
        if sha256 in found:
            continue
        root = reuse.get(sha256) if reuse else None
        if root is None:
            try:
                subject, not_after = root_facts(der)
            except ValueError:
                continue
            root = Root(subject, sha256, not_after)
        found[sha256] = root
    return found


def read_bundle(path: Path, reuse: Mapping[str, Root] | None = None) -> dict[str, Root]:
    try:
        return roots_of(der_certificates(path.read_bytes()), reuse)
    except OSError:
        return {}


def read_directory(path: Path) -> dict[str, Root]:
    """A hashed certificate folder (``/etc/ssl/certs``): the ``xxxxxxxx.N`` links, else every PEM file."""
    try:
        entries = sorted(path.iterdir())
    except OSError:
        return {}
    hashed = [entry for entry in entries if _HASH_NAME.match(entry.name)]
    chosen = hashed or [entry for entry in entries if entry.name.endswith((".pem", ".crt"))]
    ders: list[bytes] = []
    for entry in chosen:
        try:
            ders.extend(der_certificates(entry.read_bytes()))
        except OSError:
            continue
    return roots_of(ders)


def local_additions(root: Path) -> dict[str, Root]:
    """The CAs administrators added in the usual folders (searched one level deep, as the tools do)."""
    found: dict[str, Root] = {}
    for folder in LOCAL_ANCHORS:
        base = root / folder.lstrip("/")
        try:
            files = sorted(path for path in base.rglob("*") if path.is_file())
        except OSError:
            continue
        for path in files:
            try:
                found.update(roots_of(der_certificates(path.read_bytes())))
            except OSError:
                continue
    return found


@dataclass(frozen=True)
class Content:
    """The system store against Mozilla's list."""

    held: int
    reference: int
    missing: tuple[Root, ...]
    expired: tuple[Root, ...]
    removed: tuple[Root, ...]
    local: tuple[Root, ...]

    def counts(self) -> dict[str, int]:
        return {
            "held": self.held,
            "mozilla": self.reference,
            "missing": len(self.missing),
            "expired": len(self.expired),
            "removed": len(self.removed),
            "local": len(self.local),
        }


def _ordered(roots: Iterable[Root]) -> tuple[Root, ...]:
    return tuple(sorted(roots, key=lambda root: (root.subject.lower(), root.sha256)))


def compare(
    system: dict[str, Root], mozilla: dict[str, Root], local: dict[str, Root], now: datetime.datetime
) -> Content:
    """The four groups; an expired root Mozilla also removed is in both ``expired`` and ``removed``."""
    not_listed = system.keys() - mozilla.keys()
    return Content(
        held=len(system),
        reference=len(mozilla),
        missing=_ordered(mozilla[fingerprint] for fingerprint in mozilla.keys() - system.keys()),
        expired=_ordered(root for root in system.values() if root.not_after < now),
        removed=_ordered(system[fingerprint] for fingerprint in not_listed - local.keys()),
        local=_ordered(system[fingerprint] for fingerprint in not_listed & local.keys()),
    )
