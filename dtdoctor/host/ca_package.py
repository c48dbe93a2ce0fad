"""Which ca-certificates package put the system trust store on this host, and how old its Mozilla list is.

Read from the files the package managers write, under the injectable root,
never from the store's own file time (``update-ca-certificates`` and
``update-ca-trust`` rewrite the bundle whenever they run, for example at boot
or when a corporate CA is added):

- Debian and Ubuntu: dpkg's status database (``/var/lib/dpkg/status``), else
  the package's changelog (``changelog.gz`` for the native Debian package
  and Ubuntu's, ``changelog.Debian.gz`` where a build renamed it). The
  version is the date of the Mozilla list (``20230311+deb12u1``).
- Alpine: apk's database (``/lib/apk/db/installed``), the version is dated
  the same way (``20240705-r0``).
- The RHEL family: the packaged p11-kit list
  ``/usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit``. Its version
  is the ``NSS_BUILTINS_LIBRARY_VERSION`` in its header, and its time is the
  one the package gave it (Fedora's ``ca-certificates.spec`` installs it with
  ``install -p`` and ``touch -r certdata.txt``; rpm keeps packaged file
  times), which ``update-ca-trust`` never rewrites.
- Anything else (SUSE keeps the date in the rpm database only): no date.

Whether the installed package is the newest one is asked of the package
manager's local metadata only (apt's package lists already on disk, apk's
cached indexes); never the network.
"""

from __future__ import annotations

import datetime
import gzip
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from dtdoctor.host import apt_lists

PACKAGE = "ca-certificates"
P11KIT_LIST = "/usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit"
_DATED_VERSION = re.compile(r"^(?:\d+:)?(\d{4})(\d{2})(\d{2})")


@dataclass(frozen=True)
class PackageRecord:
    """The installed package: name, version, the date of its list, and where that was read."""

    name: str
    version: str
    date: datetime.date | None
    source: str

    def label(self) -> str:
        return f"{self.name} {self.version}".strip()


@dataclass(frozen=True)
class Newest:
    """What the local package metadata says about a newer package.

    ``known`` is False when the metadata is not there or cannot be read; then
    ``newest`` says nothing.
    """

    known: bool
    candidate: str = ""
    source: str = ""

    def is_installed(self, record: PackageRecord) -> bool:
        return self.known and self.candidate == record.version


def dated_version(version: str) -> datetime.date | None:
    """``20230311+deb12u1`` -> 2023-03-11; None when the version does not start with a date."""
    match = _DATED_VERSION.match(version)
    if not match:
        return None
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _stanzas(text: str) -> list[dict[str, str]]:
    """RFC 822-style stanzas (dpkg status, apt lists) or apk's ``K:value`` blocks, as dicts."""
    found: list[dict[str, str]] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep and key and not key[0].isspace():
                fields[key.strip()] = value.strip()
        if fields:
            found.append(fields)
    return found


def from_dpkg_status(root: Path) -> PackageRecord | None:
    text = _read(root / "var/lib/dpkg/status")
    for stanza in _stanzas(text or ""):
        if stanza.get("Package") == PACKAGE and stanza.get("Status", "").endswith(" installed"):
            version = stanza.get("Version", "")
            return PackageRecord(PACKAGE, version, dated_version(version), "dpkg status (/var/lib/dpkg/status)")
    return None


def from_debian_changelog(root: Path) -> PackageRecord | None:
    folder = root / "usr/share/doc" / PACKAGE
    for name in ("changelog.gz", "changelog.Debian.gz"):
        try:
            with gzip.open(folder / name, "rt", encoding="utf-8", errors="replace") as handle:
                first = handle.readline()
        except (OSError, EOFError):
            continue
        match = re.match(r"^\S+ \(([^)\s]+)\)", first)
        if match:
            version = match.group(1)
            return PackageRecord(PACKAGE, version, dated_version(version), f"/usr/share/doc/{PACKAGE}/{name}")
    return None


def from_apk(root: Path) -> PackageRecord | None:
    text = _read(root / "lib/apk/db/installed")
    for stanza in _stanzas(text or ""):
        if stanza.get("P") == PACKAGE:
            version = stanza.get("V", "")
            return PackageRecord(PACKAGE, version, dated_version(version), "apk database (/lib/apk/db/installed)")
    return None


def from_p11kit_list(root: Path) -> PackageRecord | None:
    path = root / P11KIT_LIST.lstrip("/")
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            header = handle.read(4096)
        packaged = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc).date()
    except OSError:
        return None
    match = re.search(r"NSS_BUILTINS_LIBRARY_VERSION\s+\"?([0-9.]+)", header)
    version = f"(NSS builtins {match.group(1)})" if match else "(version not in the list's header)"
    return PackageRecord(PACKAGE, version, packaged, f"{P11KIT_LIST}, time set by the package")


_READERS = {
    "debian": (from_dpkg_status, from_debian_changelog),
    "alpine": (from_apk,),
    "rhel": (from_p11kit_list,),
}
_ALL_READERS = (from_dpkg_status, from_debian_changelog, from_apk, from_p11kit_list)


def installed(root: Path, family: str | None) -> PackageRecord | None:
    """The installed ca-certificates package, from the family's own records (any family's when unknown)."""
    for reader in _READERS.get(family or "", _ALL_READERS):
        record = reader(root)
        if record is not None:
            return record
    return None


def _apt_candidate(root: Path, installed_version: str, timeout: float) -> Newest:
    offered = apt_lists.offered_versions(root, timeout)
    if not offered:
        return Newest(False)
    # A version newer than every list offers (a backport, a local build) is the newest there is.
    return Newest(True, apt_lists.newest([*offered, installed_version]), "apt's package lists on disk")


def _apk_candidate(root: Path) -> Newest:
    versions: list[str] = []
    for index in sorted((root / "var/cache/apk").glob("APKINDEX.*.tar.gz")):
        try:
            with tarfile.open(index, "r:gz") as archive:
                member = archive.extractfile("APKINDEX")
                text = io.TextIOWrapper(member, encoding="utf-8", errors="replace").read() if member else ""
        except (OSError, tarfile.TarError, KeyError):
            continue
        versions.extend(s.get("V", "") for s in _stanzas(text) if s.get("P") == PACKAGE)
    dated = [version for version in versions if dated_version(version)]
    if not dated:
        return Newest(False)
    return Newest(True, max(dated, key=_apk_order), "apk's cached indexes (/var/cache/apk)")


def _apk_order(version: str) -> tuple[int, ...]:
    return tuple(int(number) for number in re.findall(r"\d+", version))


def newest(root: Path, family: str | None, installed_version: str, timeout: float) -> Newest:
    """The newest ca-certificates the local package metadata offers (no network)."""
    if family == "debian":
        return _apt_candidate(root, installed_version, timeout)
    if family == "alpine":
        return _apk_candidate(root)
    return Newest(False)
