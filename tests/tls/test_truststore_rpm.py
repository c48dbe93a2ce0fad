"""Dating the store from the rpm database: real packages built with rpmbuild, installed under a root with rpm.

The packages are named and versioned like the real ones: SUSE's ``ca-certificates-mozilla`` (version-release
``2.74-150200.44.1``; the version is NSS_BUILTINS_LIBRARY_VERSION, per its spec file) and the RHEL family's
``ca-certificates`` (``2024.2.69_v8.0.303-91.4.el9_4``; year.NSS_BUILTINS_LIBRARY_VERSION, per Fedora's
ca-certificates.spec).
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import pytest

from dtdoctor.host import ca_package
from tests.support import rpm_packages
from tests.support.tls_servers import Authority
from tests.tls.test_truststore import MOZILLA, P11KIT_HEADER, fake_host, local

SUSE_BUNDLE = "/var/lib/ca-certificates/ca-bundle.pem"
RHEL_BUNDLE = "/etc/pki/tls/certs/ca-bundle.crt"
BUILT = datetime.datetime(2024, 7, 1, 12, 0, tzinfo=datetime.timezone.utc)
LIST_TIME = datetime.datetime(2024, 6, 12, 9, 30, tzinfo=datetime.timezone.utc)


def suse_host(tmp_path: Path, root: Authority) -> Path:
    """The bundle update-ca-certificates builds, and the package that carries the Mozilla list, installed by rpm."""
    host = fake_host(tmp_path / "root", "opensuse-leap", SUSE_BUNDLE, root)
    package = rpm_packages.build(
        tmp_path / "build", "ca-certificates-mozilla", "2.74-150200.44.1", BUILT,
        {"/usr/share/pki/trust/ca-bundle.pem": (MOZILLA, BUILT)},
    )
    rpm_packages.install(package, host)
    return host


def rhel_host(tmp_path: Path, root: Authority, with_list: bool = True) -> Path:
    host = fake_host(tmp_path / "root", "rhel", RHEL_BUNDLE, root)
    files = {"/usr/share/pki/ca-trust-source/README": (b"packaged trust sources\n", BUILT)}
    if with_list:
        files[ca_package.P11KIT_LIST] = (P11KIT_HEADER.encode(), LIST_TIME)
    package = rpm_packages.build(tmp_path / "build", "ca-certificates", "2024.2.69_v8.0.303-91.4.el9_4", BUILT, files)
    rpm_packages.install(package, host)
    return host


def test_suse_is_dated_by_the_packages_build_time_from_the_rpm_database(tmp_path: Path, root: Authority) -> None:
    finding = local(suse_host(tmp_path, root))
    assert finding.details["package"] == {
        "name": "ca-certificates-mozilla", "version": "2.74-150200.44.1",
        "from": "rpm database (rpm -q ca-certificates-mozilla); date: its build time",
    }
    assert finding.details["store_date"]["date"] == "2024-07-01"
    assert "ca-certificates-mozilla 2.74-150200.44.1 built 2024-07-01" in finding.summary
    assert "no package date found" not in finding.summary


def test_rhel_names_the_rpm_version_and_keeps_the_lists_packaged_time(tmp_path: Path, root: Authority) -> None:
    finding = local(rhel_host(tmp_path, root))
    assert finding.details["package"]["version"] == "2024.2.69_v8.0.303-91.4.el9_4"
    assert finding.details["package"]["from"] == (
        f"rpm database (rpm -q ca-certificates); date: {ca_package.P11KIT_LIST}, time set by the package"
    )
    assert finding.details["store_date"]["date"] == "2024-06-12"
    assert "ca-certificates 2024.2.69_v8.0.303-91.4.el9_4 of 2024-06-12" in finding.summary


def test_rhel_without_the_packaged_list_falls_back_to_the_build_time(tmp_path: Path, root: Authority) -> None:
    finding = local(rhel_host(tmp_path, root, with_list=False))
    assert finding.details["store_date"]["date"] == "2024-07-01"
    assert "ca-certificates 2024.2.69_v8.0.303-91.4.el9_4 built 2024-07-01" in finding.summary


def test_without_rpm_on_path_rhel_keeps_the_lists_header(
    tmp_path: Path, root: Authority, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = rhel_host(tmp_path, root)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    finding = local(host)
    assert finding.details["package"]["version"] == "(NSS builtins 2.60)"
    assert finding.details["store_date"]["date"] == "2024-06-12"


def test_a_broken_rpm_database_degrades_to_no_package_date_on_suse(tmp_path: Path, root: Authority) -> None:
    host = fake_host(tmp_path, "opensuse-leap", SUSE_BUNDLE, root)
    database = host / "var/lib/rpm"
    database.mkdir(parents=True)
    (database / "rpmdb.sqlite").write_bytes(b"not a database\n" * 64)
    rpm_packages.require_rpm()
    finding = local(host)
    assert finding.details["store_date"] is None
    assert "no package date found" in finding.summary


def test_a_root_without_an_rpm_database_is_not_given_one(tmp_path: Path, root: Authority) -> None:
    """rpm creates a database where it finds none; dtdoctor does not ask it then."""
    rpm_packages.require_rpm()
    host = fake_host(tmp_path, "opensuse-leap", SUSE_BUNDLE, root)
    before = sorted(str(path) for path in host.rglob("*"))
    local(host)
    assert sorted(str(path) for path in host.rglob("*")) == before


def test_a_hung_rpm_costs_one_timeout(tmp_path: Path, root: Authority, monkeypatch: pytest.MonkeyPatch) -> None:
    host = rhel_host(tmp_path, root)
    hung = tmp_path / "bin/rpm"
    hung.parent.mkdir()
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(0o755)
    monkeypatch.setenv("PATH", f"{hung.parent}{os.pathsep}{os.environ['PATH']}")
    started = time.monotonic()
    record = ca_package.installed(host, "rhel", 0.5)
    assert 0.5 <= time.monotonic() - started < 5  # waited for the timeout, then stopped rpm
    assert record is not None and record.version == "(NSS builtins 2.60)"

