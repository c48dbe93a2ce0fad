"""SSL contexts for the two trust stores dtdoctor judges endpoints against.

``system``: the platform's trust store, plus ``--ca-bundle``. On Linux and
the BSDs that is OpenSSL's default paths (honouring ``SSL_CERT_FILE`` and
``SSL_CERT_DIR``). On macOS and Windows OpenSSL has no store of its own: there
the operating system verifies, through ``truststore`` (the keychain, the
Windows certificate store), as native clients do. ``certifi``:
Mozilla's bundle as shipped in certifi, plus ``--ca-bundle``: what clients
that vendor certifi (most Python tools) trust.

Also: where the system store lives on this host (``locate_system_store``),
how old it and certifi are, for the ``truststore`` check.
"""

from __future__ import annotations

import datetime
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    import ssl

SYSTEM = "system"
CERTIFI = "certifi"


def uses_os_verifier(platform: str = sys.platform) -> bool:
    """Whether the system store is the operating system's verifier (macOS, Windows) rather than OpenSSL's files.

    ``truststore`` needs Python 3.10; where it is missing, OpenSSL's defaults are all there is.
    """
    if not platform.startswith(("darwin", "win")):
        return False
    try:
        import truststore  # noqa: F401
    except ImportError:
        return False
    return True


def ssl_context(store: str = SYSTEM, ca_bundle: Path | None = None) -> ssl.SSLContext:
    import ssl

    if store == CERTIFI:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    elif uses_os_verifier():
        import truststore

        # --ca-bundle below is added to what the operating system trusts.
        context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


_CONTEXTS: dict[tuple[object, ...], ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()
_BUILDING: dict[tuple[object, ...], threading.Lock] = {}


def _stamp(path: str | os.PathLike[str] | None) -> tuple[object, ...]:
    """What identifies a file's content without reading it: a rewrite, a replacement or a new link changes it."""
    if path is None:
        return (None,)
    try:
        status = os.stat(path)
    except OSError:
        return (str(path), None)
    return (str(path), status.st_mtime_ns, status.st_size, status.st_ino)


def _loaded_files(store: str) -> tuple[object, ...]:
    """Stamps of the files and folder a store's context loads (none for the operating system's verifier)."""
    import ssl

    if store == CERTIFI:
        import certifi

        return (_stamp(certifi.where()),)
    if uses_os_verifier():
        return ()
    paths = ssl.get_default_verify_paths()  # honours SSL_CERT_FILE and SSL_CERT_DIR
    return (_stamp(paths.cafile), _stamp(paths.capath))


def shared_context(store: str = SYSTEM, ca_bundle: Path | None = None) -> ssl.SSLContext:
    """``ssl_context``, built once for the same inputs and shared by every handshake that needs it.

    Loading a bundle of 150 roots costs a noticeable fraction of a second on a
    small machine; a context can serve many handshakes and threads. Threads
    asking at once wait for one build. The key holds everything that changes
    what it trusts: the store's files and ``--ca-bundle`` by stamp, so a
    long-running process (``serve``) builds a new context when one changes.
    """
    key = (store, _stamp(ca_bundle), _loaded_files(store))
    with _CONTEXTS_LOCK:
        found = _CONTEXTS.get(key)
        building = _BUILDING.setdefault(key, threading.Lock())
    if found is not None:
        return found
    with building:
        with _CONTEXTS_LOCK:
            found = _CONTEXTS.get(key)
        if found is None:
            found = ssl_context(store, ca_bundle)
            with _CONTEXTS_LOCK:
                _CONTEXTS[key] = found
    return found


# --- where the system trust store lives -------------------------------------

# (path, which systems put it there), in the order OpenSSL builds of those systems use them.
BUNDLE_LOCATIONS = (
    ("/etc/ssl/certs/ca-certificates.crt", "Debian/Ubuntu"),
    ("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "RHEL/Fedora"),
    ("/etc/pki/tls/certs/ca-bundle.crt", "RHEL/CentOS"),
    ("/etc/ssl/cert.pem", "Alpine/BSD"),
    ("/var/lib/ca-certificates/ca-bundle.pem", "SUSE"),
    ("/etc/ssl/ca-bundle.pem", "SUSE"),
)
DIRECTORY_LOCATIONS = (("/etc/ssl/certs", "OpenSSL certificate directory"),)
_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"
_HASH_NAME = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")


@dataclass(frozen=True)
class StoreLocation:
    """Where the system trust store was found.

    Attributes:
        kind: "file" (a PEM bundle), "dir" (a hashed certificate directory) or "os" (keychain / Windows store).
        path: the host path (as the host sees it, not under a test root).
        origin: the environment variable that named it, or which systems use that path.
        roots: how many certificates it holds (None for "os").
        modified: the file's modification time, UTC (None for "os").
    """

    kind: str
    path: str
    origin: str
    roots: int | None = None
    modified: datetime.datetime | None = None
    problem: str = ""


def count_pem_certificates(path: Path) -> int:
    try:
        return path.read_bytes().count(_PEM_MARKER)
    except OSError:
        return 0


def count_directory_certificates(path: Path) -> int:
    try:
        names = [entry.name for entry in path.iterdir()]
    except OSError:
        return 0
    hashed = [name for name in names if _HASH_NAME.match(name)]
    if hashed:
        return len(hashed)
    return len([name for name in names if name.endswith((".pem", ".crt"))])


def _modified(path: Path) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    except OSError:
        return None


def _counted(root: Path, kind: str, host_path: str, origin: str) -> StoreLocation:
    """What is at ``host_path``: its certificates counted, or ``problem`` when nothing of that kind is there."""
    path = root / host_path.lstrip("/")
    present = path.is_file() if kind == "file" else path.is_dir()
    if not present:
        return StoreLocation(kind, host_path, origin, 0, None, "it does not exist")
    count = count_pem_certificates(path) if kind == "file" else count_directory_certificates(path)
    return StoreLocation(kind, host_path, origin, count, _modified(path))


def _from_environment(root: Path, environ: Mapping[str, str]) -> list[StoreLocation]:
    cert_file = environ.get("SSL_CERT_FILE", "").strip()
    cert_dir = environ.get("SSL_CERT_DIR", "").strip()
    found = [_counted(root, "file", cert_file, "SSL_CERT_FILE")] if cert_file else []
    found += [_counted(root, "dir", entry, "SSL_CERT_DIR") for entry in cert_dir.split(os.pathsep) if entry]
    return found


_OS_STORES = {
    "darwin": StoreLocation("os", "macOS keychain", "the operating system's trust settings"),
    "win": StoreLocation("os", "Windows certificate store", "the operating system's trust settings"),
}


def locate_system_store(root: Path, environ: Mapping[str, str], platform: str) -> list[StoreLocation]:
    """Every place the system trust store is read from, best first; empty when there is none.

    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` replace OpenSSL's defaults, so when
    they are set they are the store (and a path that does not exist is
    reported with ``problem``).
    """
    found = _from_environment(root, environ)
    if found:
        return found
    os_store = _OS_STORES.get("win" if platform.startswith("win") else platform)
    if os_store is not None:
        return [os_store]
    return _present(root, "file", BUNDLE_LOCATIONS) or _present(root, "dir", DIRECTORY_LOCATIONS)


def _present(root: Path, kind: str, places: tuple[tuple[str, str], ...]) -> list[StoreLocation]:
    """The distribution paths of ``kind`` that hold certificates."""
    spots = [_counted(root, kind, host_path, origin) for host_path, origin in places]
    return [spot for spot in spots if spot.roots]


def certifi_date() -> tuple[str, datetime.date | None]:
    """certifi's version and the date it encodes (certifi versions are YYYY.MM.DD)."""
    import certifi

    version = str(getattr(certifi, "__version__", ""))
    parts = version.split(".")
    try:
        return version, datetime.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except (IndexError, ValueError):
        return version, None
