"""apt's package lists read without apt's cache: versions found as apt finds them, ordered as dpkg orders them."""

from __future__ import annotations

import gzip
import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dtdoctor.host import apt_lists, compressed

VERSIONS = [
    "20230311+deb12u1", "20230311+deb12u2", "20230311", "20250419~deb12u2", "20250419", "20240203~22.04.1",
    "20240203~20.04.1", "1:0.1", "2:1", "1.0-1", "1.0-1~bpo1", "1.0~rc1-1", "1.0a-1", "1.0-10", "1.0-9",
    "1.0+b1", "1.0.1", "1.0-1.1",
]


def dpkg_order(left: str, right: str) -> int:
    if subprocess.run(["dpkg", "--compare-versions", left, "lt", right], check=False).returncode == 0:
        return -1
    return 0 if subprocess.run(["dpkg", "--compare-versions", left, "eq", right], check=False).returncode == 0 else 1


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
def test_versions_are_ordered_as_dpkg_orders_them() -> None:
    for left, right in itertools.combinations(VERSIONS, 2):
        ours = apt_lists.compare(left, right)
        assert (ours > 0) - (ours < 0) == dpkg_order(left, right), (left, right)


def stanza(package: str, version: str) -> str:
    return f"Package: {package}\nVersion: {version}\nArchitecture: all\nFilename: pool/{package}_{version}.deb\n\n"


def test_stanzas_are_found_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compressed, "CHUNK", 7)  # every stanza is cut somewhere
    folder = tmp_path / "var/lib/apt/lists"
    folder.mkdir(parents=True)
    text = stanza("ca-certificates-java", "1") + stanza("ca-certificates", "20230311+deb12u1") + stanza(
        "openssl", "3.0") + stanza("ca-certificates", "20250419~deb12u2")
    (folder / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages").write_text(text)
    (folder / "deb.debian.org_debian_dists_bookworm_InRelease").write_text(stanza("ca-certificates", "99"))
    assert apt_lists.offered_versions(tmp_path, 5) == ["20230311+deb12u1", "20250419~deb12u2"]


@pytest.mark.skipif(not Path("/usr/lib/apt/apt-helper").exists(), reason="apt is not installed")
def test_compressed_lists_are_read_through_apt_helper(tmp_path: Path) -> None:
    """As Acquire::GzipIndexes keeps them; apt-helper cat-file decompresses what apt wrote."""
    folder = tmp_path / "var/lib/apt/lists"
    folder.mkdir(parents=True)
    with gzip.open(folder / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.gz", "wt") as handle:
        handle.write(stanza("ca-certificates", "20230311+deb12u1"))
    assert apt_lists.offered_versions(tmp_path, 5) == ["20230311+deb12u1"]


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="apt is not installed")
def test_this_machines_lists_agree_with_apt_cache() -> None:
    """The newest version in this machine's lists is apt's own candidate (no pinning here)."""
    offered = apt_lists.offered_versions(Path("/"), 10)
    policy = subprocess.run(["apt-cache", "policy", "ca-certificates"], capture_output=True, text=True,
                            check=False).stdout
    candidate = re.search(r"Candidate:\s*(\S+)", policy)
    if not offered or candidate is None or candidate.group(1) == "(none)":
        pytest.skip("apt's lists on this machine offer no ca-certificates (run apt-get update)")
    assert apt_lists.newest(offered) == candidate.group(1)
