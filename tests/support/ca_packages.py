"""Hosts whose trust store comes from Debian's real ``ca-certificates`` packages.

Every version apt offers is fetched with ``apt-get download`` and installed
under a test root as dpkg would leave it:

- ``dpkg-deb -x`` unpacks the files (``/usr/share/ca-certificates/mozilla/*.crt``,
  ``/usr/share/doc/ca-certificates/changelog.gz``, the package's own
  ``update-ca-certificates``);
- dpkg's status database gets the package's control stanza with
  ``Status: install ok installed`` (dpkg(1), "Package states");
- ``/etc/ca-certificates.conf`` lists every shipped certificate, as the
  package's postinst writes it on a first install with debconf's default
  ``ca-certificates/trust_new_crts=yes``;
- the package's own ``update-ca-certificates`` (which takes ``--certsconf``,
  ``--certsdir``, ``--localcertsdir``, ``--etccertsdir``, ``--hooksdir``)
  builds ``/etc/ssl/certs/ca-certificates.crt`` under the root.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "ca-certificates"
BUNDLE = "etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class DebianStore:
    """One real package installed under ``root``."""

    version: str
    deb: Path
    root: Path

    @property
    def bundle(self) -> Path:
        return self.root / BUNDLE


def unavailable(reason: str) -> None:
    """Skip where apt cannot fetch (a laptop without Debian's mirrors); CI must have them."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must build the trust-store fixtures from real packages: {reason}")
    pytest.skip(reason)


def offered_versions() -> list[str]:
    """Every version of ca-certificates apt's lists offer, newest first."""
    if shutil.which("apt-cache") is None or shutil.which("dpkg-deb") is None:
        unavailable("apt-cache or dpkg-deb is not installed")
    completed = subprocess.run(["apt-cache", "madison", PACKAGE], capture_output=True, text=True, check=False)
    versions = [line.split("|")[1].strip() for line in completed.stdout.splitlines() if line.count("|") >= 2]
    if not versions:
        unavailable("apt's lists offer no ca-certificates package (run apt-get update)")
    return list(dict.fromkeys(versions))


def download(version: str, folder: Path) -> Path:
    completed = subprocess.run(
        ["apt-get", "download", "-q", f"{PACKAGE}={version}"], cwd=folder, capture_output=True, text=True,
        check=False, timeout=300,
    )
    found = sorted(folder.glob(f"{PACKAGE}_*.deb"), key=lambda path: path.stat().st_mtime)
    wanted = [path for path in found if _deb_version(path) == version]
    if completed.returncode != 0 or not wanted:
        unavailable(f"apt-get download {PACKAGE}={version} failed: {completed.stderr.strip()[-300:]}")
    return wanted[0]


def _deb_version(deb: Path) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                          check=True).stdout.strip()


def install(deb: Path, root: Path, os_release: str) -> DebianStore:
    """Lay ``deb`` out under ``root`` as dpkg and the package's maintainer scripts would."""
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    stanza = re.sub(r"^(Package: .*)$", r"\1\nStatus: install ok installed", control.strip(), count=1,
                    flags=re.MULTILINE)
    status = root / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text(stanza + "\n\n")
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/os-release").write_text(os_release)
    certs_dir = root / "usr/share/ca-certificates"
    shipped = sorted(str(path.relative_to(certs_dir)) for path in certs_dir.rglob("*.crt"))
    conf = root / "etc/ca-certificates.conf"
    conf.write_text("# line begins with ! is certificate filename to be deselected.\n" + "\n".join(shipped) + "\n")
    for folder in ("etc/ssl/certs", "usr/local/share/ca-certificates", "etc/ca-certificates/update.d"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "sh", str(root / "usr/sbin/update-ca-certificates"),
            "--certsconf", str(conf),
            "--certsdir", str(certs_dir),
            "--localcertsdir", str(root / "usr/local/share/ca-certificates"),
            "--etccertsdir", str(root / "etc/ssl/certs"),
            "--hooksdir", str(root / "etc/ca-certificates/update.d"),
        ],
        check=True, capture_output=True,
    )
    return DebianStore(_deb_version(deb), deb, root)

