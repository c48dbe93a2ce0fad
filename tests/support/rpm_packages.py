"""Real rpm packages, built with ``rpmbuild`` and installed under a test root with ``rpm --root``.

Debian's ``rpm`` package provides both. Its rpm keeps its database in
``~/.rpmdb`` by default, so every call names the distribution's database
folder (``--dbpath /var/lib/rpm``), which ``--root`` puts under the root.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from pathlib import Path

from tests.support.ca_packages import unavailable

DBPATH = "/var/lib/rpm"


def require_rpm() -> None:
    """Skip where rpm is not installed here; CI installs it (.ci/truststore-fixtures) and fails instead."""
    if shutil.which("rpm") is None or shutil.which("rpmbuild") is None:
        unavailable("rpm and rpmbuild are not installed (apt-get install rpm)")


def _spec(name: str, version: str, release: str, files: dict[str, tuple[bytes, datetime.datetime]]) -> str:
    install = []
    for number, (path, (_, mtime)) in enumerate(sorted(files.items())):
        install.append(f"install -D -p -m 644 %{{_sourcedir}}/file{number} %{{buildroot}}{path}")
        install.append(f"touch -d '{mtime.isoformat()}' %{{buildroot}}{path}")
    listed = "\n".join(sorted(files))
    return (
        f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: test package\nLicense: MIT\n"
        f"BuildArch: noarch\n%description\ntest package\n%install\n" + "\n".join(install) + f"\n%files\n{listed}\n"
    )


def build(
    workdir: Path, name: str, version_release: str, built: datetime.datetime,
    files: dict[str, tuple[bytes, datetime.datetime]],
) -> Path:
    """A noarch rpm NAME-VERSION-RELEASE whose BUILDTIME is ``built`` and whose files keep the given times."""
    require_rpm()
    version, release = version_release.rsplit("-", 1)
    top = workdir / "rpmbuild"
    (top / "SOURCES").mkdir(parents=True, exist_ok=True)
    for number, (_, (content, _)) in enumerate(sorted(files.items())):
        (top / "SOURCES" / f"file{number}").write_bytes(content)
    spec = workdir / f"{name}.spec"
    spec.write_text(_spec(name, version, release, files))
    environ = {**os.environ, "SOURCE_DATE_EPOCH": str(int(built.timestamp()))}
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", "use_source_date_epoch_as_buildtime 1",
         "--define", "clamp_mtime_to_source_date_epoch 0", str(spec)],
        check=True, capture_output=True, env=environ, timeout=120,
    )
    return next((top / "RPMS/noarch").glob(f"{name}-{version_release}.noarch.rpm"))


def install(package: Path, root: Path) -> None:
    """``rpm --root ROOT -i``: the files under the root, the package in the root's own rpm database."""
    require_rpm()
    subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", DBPATH, "-i", "--nodeps", "--nosignature", str(package)],
        check=True, capture_output=True, timeout=120,
    )
