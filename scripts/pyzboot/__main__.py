# The first file any Python reads from dtdoctor-<version>.pyz. It must parse
# on Python 2.7 and every Python 3, so it uses no syntax newer than both: a
# Python outside the supported range gets one line that says what to do and
# exit code 3, never a traceback. scripts/build-pyz fills in the constants.
import os
import sys

VERSION = "dev"
PYTHONS = ("3.9",)
ARCHES = ("x86_64",)
GLIBC = ""
DIGEST = ""  # SHA-256 of the archive's manifest.json
EXIT_UNUSABLE = 3


def installed_pythons():
    """Supported interpreters on PATH, newest first, as the names to type."""
    found = []
    folders = os.environ.get("PATH", "").split(os.pathsep)
    for version in reversed(PYTHONS):
        name = "python" + version
        for folder in folders:
            if folder and os.access(os.path.join(folder, name), os.X_OK):
                found.append(name)
                break
    return found


def advice():
    archive = os.path.basename(sys.argv[0]) or "dtdoctor-%s.pyz" % VERSION
    found = installed_pythons()
    if found:
        return "run it with %s, which is installed here: %s %s check" % (found[0], found[0], archive)
    return "install one of them (python3.9 or newer from the OS packages) or use the dtdoctor container image"


def refuse():
    running = "%d.%d.%d" % tuple(sys.version_info[:3])
    sys.stderr.write("dtdoctor %s needs Python %s to %s, this is Python %s; %s\n"
                     % (VERSION, PYTHONS[0], PYTHONS[-1], running, advice()))
    sys.exit(EXIT_UNUSABLE)


if "%d.%d" % tuple(sys.version_info[:2]) not in PYTHONS:
    refuse()

from _dtdoctor_boot import main  # noqa: E402  (only a supported Python may read it)

main({"version": VERSION, "pythons": PYTHONS, "arches": ARCHES, "glibc": GLIBC, "digest": DIGEST})
