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
  times), which ``update-ca-trust`` never rewrites. Where an ``rpm`` binary
  exists, the rpm database names the package's version-release
  (``2024.2.69_v8.0.303-91.4.el9_4``); that version is ``year.`` plus the
  NSS builtins version (Fedora's ``ca-certificates.spec``: "For the package
  version number, we use: year.{upstream version}"), a year and no day, so
  the date stays the list's packaged time, or the build time when the list
  is not there.
- SUSE: the rpm database only (``ca-certificates-mozilla``). Its version is
  the ``NSS_BUILTINS_LIBRARY_VERSION`` of ``nssckbi.h`` (the package's spec
  file: "Version number is NSS_BUILTINS_LIBRARY_VERSION"), no date, so the
  date is the package's build time, and says so.
- Without ``rpm``, or when it fails: the files above, else no date.

rpm is asked of the local database under the root only (``rpm --root ROOT
-q``), with the probe's timeout.

Whether the installed package is the newest one is asked of the package
manager's local metadata only (apt's package lists already on disk, apk's
cached indexes); never the network.
"""

from __future__ import annotations

import datetime
import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from dtdoctor.core.background import Background

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
    built: bool = False  # the date is the package's build time, not the list's

    def label(self) -> str:
        return f"{self.name} {self.version}".strip()


@dataclass(frozen=True)
class RpmRecord:
    """What the rpm database says of one installed package."""

    name: str
    version_release: str
    built: datetime.date


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


def _blocks_naming(text: str, package: str) -> str:
    """Only the stanzas of ``package``: a status file lists every package, and parsing them all costs time."""
    marker = f"\nPackage: {package}\n"
    found: list[str] = []
    start = ("\n" + text).find(marker)
    while start >= 0:
        end = text.find("\n\n", start)
        found.append(text[start : end if end >= 0 else len(text)])
        start = text.find(marker, end) if end >= 0 else -1
    return "\n\n".join(found)


def from_dpkg_status(root: Path) -> PackageRecord | None:
    text = _read(root / "var/lib/dpkg/status")
    for stanza in _stanzas(_blocks_naming(text or "", PACKAGE)):
        if stanza.get("Package") == PACKAGE and stanza.get("Status", "").endswith(" installed"):
            version = stanza.get("Version", "")
            return PackageRecord(PACKAGE, version, dated_version(version), "dpkg status (/var/lib/dpkg/status)")
    return None


def from_debian_changelog(root: Path) -> PackageRecord | None:
    import gzip

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
    "suse": (),
}
_ALL_READERS = (from_dpkg_status, from_debian_changelog, from_apk, from_p11kit_list)
# The package that owns the Mozilla list, per family that keeps it in an rpm database.
RPM_PACKAGES = {"suse": "ca-certificates-mozilla", "rhel": PACKAGE}
_RPM_FORMAT = "%{VERSION}-%{RELEASE} %{BUILDTIME}\\n"


# Where rpm keeps its database: /usr/lib/sysimage/rpm since Fedora 36 and openSUSE Tumbleweed
# (/var/lib/rpm is then a link to it), /var/lib/rpm before.
RPM_DATABASES = ("/usr/lib/sysimage/rpm", "/var/lib/rpm")


def rpm_database(root: Path) -> str | None:
    """The root's rpm database folder, None when it has none (rpm is then not asked: it would create one)."""
    for folder in RPM_DATABASES:
        path = root / folder.lstrip("/")
        if path.is_dir() and any(path.iterdir()):
            return folder
    return None


def query_rpm(root: Path, name: str, timeout: float) -> RpmRecord | None:
    """``rpm --root ROOT --dbpath DB -q NAME`` on the root's own database.

    None without rpm, without a database, on failure or timeout. The database path is given because an rpm
    built for another distribution (Debian's keeps ``~/.rpmdb``) would otherwise look, and create one, elsewhere.
    """
    import shutil
    import subprocess

    rpm, dbpath = shutil.which("rpm"), rpm_database(root)
    if rpm is None or dbpath is None:
        return None
    command = [rpm, "--root", str(root), "--dbpath", dbpath, "-q", "--qf", _RPM_FORMAT, name]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    fields = completed.stdout.split("\n", 1)[0].split()
    if completed.returncode != 0 or len(fields) != 2 or not fields[1].isdigit():
        return None
    built = datetime.datetime.fromtimestamp(int(fields[1]), datetime.timezone.utc).date()
    return RpmRecord(name, fields[0], built)


def _with_rpm(record: PackageRecord | None, rpm: RpmRecord) -> PackageRecord:
    """The rpm database's version-release; the list's packaged time when there is one, else the build time."""
    source = f"rpm database (rpm -q {rpm.name})"
    if record is not None and record.date is not None:
        return PackageRecord(rpm.name, rpm.version_release, record.date, f"{source}; date: {record.source}")
    return PackageRecord(rpm.name, rpm.version_release, rpm.built, f"{source}; date: its build time", built=True)


def _from_files(root: Path, family: str | None) -> PackageRecord | None:
    for reader in _READERS.get(family or "", _ALL_READERS):
        record = reader(root)
        if record is not None:
            return record
    return None


def installed(root: Path, family: str | None, timeout: float) -> PackageRecord | None:
    """The installed ca-certificates package, from the family's own records (any family's when unknown).

    Where the family keeps its packages in an rpm database and ``rpm`` answers, the version is rpm's.
    """
    record = _from_files(root, family)
    name = RPM_PACKAGES.get(family or "")
    rpm = query_rpm(root, name, timeout) if name else None
    return record if rpm is None else _with_rpm(record, rpm)


def _apt_candidate(root: Path, installed_version: str, timeout: float, stop: threading.Event | None) -> Newest:
    from dtdoctor.host import apt_lists  # Debian's lists only (it loads ctypes)

    offered = apt_lists.offered_versions(root, timeout, stop)
    if not offered:
        return Newest(False)
    # A version newer than every list offers (a backport, a local build) is the newest there is.
    return Newest(True, apt_lists.newest([*offered, installed_version]), "apt's package lists on disk")


def _apk_candidate(root: Path) -> Newest:
    import tarfile  # Alpine's index only

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


# The families whose local package metadata says which package is the newest.
_LOCAL_METADATA = ("debian", "alpine")


def has_local_metadata(family: str | None) -> bool:
    return family in _LOCAL_METADATA


def newest(
    root: Path, family: str | None, installed_version: str, timeout: float, stop: threading.Event | None = None
) -> Newest:
    """The newest ca-certificates the local package metadata offers (no network); ``stop`` abandons apt's lists
    between two chunks (the answer is then "not known")."""
    if family == "debian":
        return _apt_candidate(root, installed_version, timeout, stop)
    if family == "alpine":
        return _apk_candidate(root)
    return Newest(False)


class Ahead:
    """``newest`` read in a thread of its own, started before it is known to be needed.

    ``result`` waits for it (its reading has its own timeout) and raises what it raised; ``cancel`` tells it
    to stop reading when the answer turns out not to be needed.
    """

    def __init__(self, root: Path, family: str | None, installed_version: str, timeout: float) -> None:
        self._stop = threading.Event()
        self._reading = Background(
            lambda: newest(root, family, installed_version, timeout, self._stop), "dtdoctor-prepare-truststore-newest"
        )

    def result(self) -> Newest:
        return self._reading.result()

    def cancel(self) -> None:
        self._stop.set()
