"""Unpack the wheels this Python needs from dtdoctor-<version>.pyz, then run dtdoctor.

Read only by a supported Python (``__main__.py`` turned the others away).
Compiled modules cannot be imported from inside a zip, so the wheels for this
interpreter and machine are unpacked once into a private folder:

- ``$XDG_CACHE_HOME/dtdoctor`` or ``~/.cache/dtdoctor``, else
  ``$XDG_RUNTIME_DIR/dtdoctor``, else ``dtdoctor-<uid>`` in the temporary
  folders, else a fresh private temporary folder removed at exit;
- a folder is used only when it is a real directory owned by this user with
  mode 0700, under parents that no one else can rename it in, on a file
  system that allows executing code (a ``noexec`` ``/tmp`` is passed over);
- every wheel's SHA-256 is checked against the manifest before it is
  unpacked; the unpacked tree appears under its final name only when complete
  (unpacked beside it, then renamed), so a folder with the completion mark is
  whole; anything else under the name is removed and unpacked again.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any, Iterator, NoReturn

# A later run needs none of the modules for unpacking (zipfile, json, hashlib,
# tempfile, shutil): they are imported where they are used, so a start from
# the cache costs little more than an installed dtdoctor's.

EXIT_UNUSABLE = 3
COMPLETE = ".complete"

ARCHIVE = ""  # the .pyz this process runs from
UNPACKED = ""  # the folder its modules are imported from


class Unusable(Exception):
    """This host cannot run the archive; the message says what to do."""


def refuse(message: str) -> NoReturn:
    sys.stderr.write(f"dtdoctor: {message}\n")
    sys.exit(EXIT_UNUSABLE)


def machine() -> str:
    name = os.uname().machine.lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(name, name)


def glibc() -> tuple[int, int] | None:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return None
    parts = text.split()[-1].split(".") if text.startswith("glibc") else []
    return (int(parts[0]), int(parts[1])) if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else None


def running() -> str:
    return sys.version.split()[0]


def supported(build: dict[str, Any]) -> str:
    pythons = build["pythons"]
    return f"Python {pythons[0]} to {pythons[-1]} on Linux {' or '.join(build['arches'])}"


def platform_problem(build: dict[str, Any]) -> str | None:
    arch = machine()
    if not sys.platform.startswith("linux") or arch not in build["arches"]:
        return (f"this single file holds modules for {supported(build)} only, this is {sys.platform} {arch}; "
                "install dtdoctor with pip instead (pip install dtdoctor)")
    if sys.implementation.name != "cpython" or "t" in getattr(sys, "abiflags", ""):
        return (f"this single file needs CPython with the GIL ({supported(build)}); this is "
                f"{sys.implementation.name} {running()}{getattr(sys, 'abiflags', '')}")
    return None


def glibc_problem(build: dict[str, Any]) -> str | None:
    if not build.get("glibc"):
        return None
    needed = tuple(int(part) for part in str(build["glibc"]).split("."))
    found = glibc()
    if found is not None and found >= needed:
        return None
    have = f"glibc {found[0]}.{found[1]}" if found else "no glibc (musl?)"
    return (f"this single file needs glibc {build['glibc']} or newer, this host has {have}; "
            "use the dtdoctor container image or install dtdoctor with pip")


def target_key() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}-{machine()}"


def check_host(build: dict[str, Any]) -> None:
    """Unusable unless this interpreter, machine and C library can run the archive's modules.

    Checked on every start, cached or not: a home folder shared with an older host holds a cache it cannot use.
    """
    problem = platform_problem(build) or glibc_problem(build)
    if problem:
        raise Unusable(problem)


def safe_folder(path: str) -> bool:
    """A real directory of this user's, mode 0700: no one else has put or can put anything in it."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077 == 0


def safe_parents(path: str) -> bool:
    """No one but this user and root can rename or replace anything on the way to ``path``.

    The real path is walked: a symlinked ``~/.cache`` is judged by where it leads.
    """
    here = os.path.dirname(os.path.realpath(path))
    while True:
        try:
            info = os.stat(here)
        except OSError:
            return False
        if info.st_uid not in (0, os.geteuid()):
            return False
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            return False
        parent = os.path.dirname(here)
        if parent == here:
            return True
        here = parent


def can_execute(path: str) -> bool:
    try:
        return not os.statvfs(path).f_flag & getattr(os, "ST_NOEXEC", 8)
    except OSError:
        return False


def private_folder(path: str) -> str | None:
    """``path`` made or found as a private folder that may hold code, or None when it cannot be one."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    if safe_folder(path) and safe_parents(path) and can_execute(path) and os.access(path, os.W_OK):
        return path
    return None


def temporary_folders() -> list[str]:
    import tempfile

    return list(dict.fromkeys((tempfile.gettempdir(), "/var/tmp", "/dev/shm")))


def candidates() -> Iterator[str]:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # An empty HOME is no home (expanduser would make it "/"); no HOME and no passwd entry leaves "~".
    home = os.path.expanduser("~") if os.environ.get("HOME", None) != "" else ""
    if os.path.isabs(xdg):
        yield os.path.join(xdg, "dtdoctor")
    elif os.path.isabs(home):
        yield os.path.join(home, ".cache", "dtdoctor")
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime):
        yield os.path.join(runtime, "dtdoctor")
    for temporary in temporary_folders():
        yield os.path.join(temporary, f"dtdoctor-{os.geteuid()}")


def fresh_temporary() -> str | None:
    """A new private folder in the first temporary folder that allows code, removed at exit."""
    import atexit
    import shutil
    import tempfile

    for temporary in temporary_folders():
        try:
            path = tempfile.mkdtemp(prefix="dtdoctor-", dir=temporary)
        except OSError:
            continue
        if can_execute(path):
            # dtdoctor.cli.main ends the process with os._exit, after running the exit handlers: this one too.
            atexit.register(shutil.rmtree, path, True)
            remove_when_terminated(path)
            return path
        shutil.rmtree(path, ignore_errors=True)
    return None


def remove_when_terminated(path: str) -> None:
    """Remove ``path`` on SIGTERM as well, then end as SIGTERM ends a process: exit handlers do not run then.

    Only where nobody chose what SIGTERM does (``serve`` sets its own, which ends through the exit handlers).
    """
    import shutil
    import signal

    def terminated(number: int, frame: object) -> None:
        shutil.rmtree(path, ignore_errors=True)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        try:
            signal.signal(signal.SIGTERM, terminated)
        except ValueError:  # not the main thread: only it may set a handler
            pass


def cache_root() -> str:
    for path in candidates():
        folder = private_folder(path)
        if folder:
            return folder
    folder = fresh_temporary()
    if folder:
        return folder
    tried = ", ".join(candidates())
    raise Unusable(f"no private folder that may hold code could be made (tried {tried}); "
                   "set XDG_CACHE_HOME to a folder of yours on a file system mounted without noexec")


def complete(folder: str, digest: str) -> bool:
    if not safe_folder(folder):
        return False
    try:
        with open(os.path.join(folder, COMPLETE), encoding="ascii") as mark:
            return mark.read().strip() == digest
    except (OSError, ValueError):
        return False


def unpack_wheel(data: bytes, site: str) -> None:
    import io
    import shutil
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        wheel.extractall(site)
    # Files a wheel puts in purelib/platlib of its .data folder belong in site-packages itself.
    for data_dir in [name for name in os.listdir(site) if name.endswith(".data")]:
        for scheme in ("purelib", "platlib"):
            source = os.path.join(site, data_dir, scheme)
            if os.path.isdir(source):
                shutil.copytree(source, site, dirs_exist_ok=True)
        shutil.rmtree(os.path.join(site, data_dir))


def unpack(archive: Any, manifest: dict[str, Any], key: str, final: str, digest: str) -> None:
    import hashlib
    import shutil
    import tempfile

    scratch = tempfile.mkdtemp(prefix=".unpack-", dir=os.path.dirname(final))
    try:
        for name in manifest["targets"][key]:
            data = archive.read(f"wheels/{name}")
            if hashlib.sha256(data).hexdigest() != manifest["wheels"][name]:
                raise Unusable(f"{ARCHIVE} is damaged ({name} does not match its checksum); download it again "
                               "and check it against SHA256SUMS")
            unpack_wheel(data, scratch)
        with open(os.path.join(scratch, COMPLETE), "w", encoding="ascii") as mark:
            mark.write(digest + "\n")
        if os.path.lexists(final) and not complete(final, digest):
            shutil.rmtree(final) if safe_folder(final) else os.unlink(final)
        try:
            os.rename(scratch, final)
        except OSError:
            if not complete(final, digest):  # another run of this user's won the race with a whole tree
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def unpack_archive(archive_path: str, build: dict[str, Any], final: str) -> None:
    """Check the manifest against the digest the launcher was built with, then unpack this target's wheels."""
    import hashlib
    import json
    import zipfile

    damaged = f"{archive_path} is damaged (%s); download it again and check it against SHA256SUMS"
    try:
        archive = zipfile.ZipFile(archive_path)
    except zipfile.BadZipFile as exc:
        raise Unusable(damaged % exc) from exc
    with archive:
        raw = archive.read("manifest.json")
        if hashlib.sha256(raw).hexdigest() != build["digest"]:
            raise Unusable(damaged % "its manifest does not match")
        manifest = json.loads(raw)
        key = target_key()
        if key not in manifest["targets"]:
            raise Unusable(f"this single file has modules for {supported(build)}, not for Python {running()} "
                           f"on {machine()}; run it with python{build['pythons'][-1]} "
                           "or use the dtdoctor container image")
        unpack(archive, manifest, key, final, build["digest"])


def prepare(archive_path: str, build: dict[str, Any]) -> str:
    """The folder of unpacked modules for this interpreter, unpacked now if needed.

    ``build`` holds what the launcher was built with: version, pythons, arches,
    glibc, and digest (the SHA-256 of manifest.json), so a later run opens no zip.
    """
    check_host(build)
    final = os.path.join(cache_root(), f"{build['version']}-{build['digest'][:16]}-{target_key()}")
    if not complete(final, build["digest"]):
        unpack_archive(archive_path, build, final)
    return final


def archive_path() -> str:
    main = sys.modules.get("__main__")
    loader = getattr(main, "__loader__", None)
    archive = getattr(loader, "archive", None) or os.path.dirname(os.path.abspath(getattr(main, "__file__", "")))
    return os.path.abspath(archive)


def main(build: dict[str, Any]) -> None:
    global ARCHIVE, UNPACKED
    ARCHIVE = archive_path()
    try:
        UNPACKED = prepare(ARCHIVE, build)
    except Unusable as exc:
        refuse(str(exc))
    except OSError as exc:
        refuse(f"cannot unpack {ARCHIVE}: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    except (KeyError, ValueError) as exc:  # a member missing, a manifest that is not JSON
        refuse(f"{ARCHIVE} is damaged ({type(exc).__name__}: {exc}); download it again and check it against SHA256SUMS")
    except KeyboardInterrupt:  # Ctrl-C while unpacking: the half-unpacked folder is already removed
        refuse("interrupted")
    sys.path.insert(0, UNPACKED)
    from dtdoctor.cli import main as dtdoctor

    dtdoctor()
