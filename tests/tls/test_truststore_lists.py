"""The package lists, read while the roots are parsed when the store's package is older than certifi's list, and
used only when the verdict asks for them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dtdoctor.checks import truststore
from dtdoctor.host import apt_lists, ca_package
from tests.host.test_apt_compressed import LIST, compress, require, stanza
from tests.support.factories import context
from tests.support.tls_servers import Authority
from tests.tls.helpers import run
from tests.tls.test_truststore import fresh_debian, lacking_debian, truststore_results

INSTALLED, OFFERED = "20230311+deb12u1", "20250419~deb12u2"


def with_package(host: Path) -> Path:
    """dpkg's record of an old ca-certificates, and lz4-compressed lists (as Debian 12 images keep them) that
    offer a newer one among thousands of other packages."""
    status = host / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text(f"Package: ca-certificates\nStatus: install ok installed\nVersion: {INSTALLED}\n\n")
    text = "".join(stanza(f"package{number}", "1.0", filler=number % 7) for number in range(4000))
    folder = host / "var/lib/apt/lists"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{LIST}.lz4").write_bytes(compress((text + stanza("ca-certificates", OFFERED)).encode(), ".lz4"))
    return host


class Recorded(ca_package.Ahead):
    """The read-ahead, recording whether its answer was asked for or it was cancelled."""

    def __init__(self, made: list[Recorded], *args: object) -> None:
        self.asked = self.cancelled = False
        made.append(self)
        super().__init__(*args)  # type: ignore[arg-type]

    def result(self) -> ca_package.Newest:
        self.asked = True
        return super().result()

    def cancel(self) -> None:
        self.cancelled = True
        super().cancel()


@pytest.fixture
def read_ahead(monkeypatch: pytest.MonkeyPatch) -> list[Recorded]:
    """Every read-ahead the truststore check starts; the lists are read only by one (never again in judge)."""
    made: list[Recorded] = []
    monkeypatch.setattr(ca_package, "Ahead", lambda *args: Recorded(made, *args))
    return made


def test_an_outdated_store_is_told_the_newest_package_read_alongside_its_roots(
    tmp_path: Path, root: Authority, read_ahead: list[Recorded]
) -> None:
    require("lz4")
    host = with_package(lacking_debian(tmp_path, root))
    identity = truststore.identify_store(context({}, root=host), "linux")
    assert identity.package is not None and identity.certifi_day is not None
    assert identity.package.date is not None and identity.package.date < identity.certifi_day  # read ahead
    result = truststore_results(run(truststore, ctx=context({}, root=host)))
    assert result.code == "truststore.outdated"
    assert result.details["package"]["newest_known"] == OFFERED
    assert f"Upgrade to ca-certificates {OFFERED}" in result.remediation
    assert [(ahead.asked, ahead.cancelled) for ahead in read_ahead] == [(True, False)]  # its answer was used


def test_a_current_store_of_an_older_package_does_not_use_the_lists(
    tmp_path: Path, root: Authority, read_ahead: list[Recorded]
) -> None:
    """The package predates certifi's list, yet holds the same roots: the lists read ahead are not used."""
    require("lz4")
    host = with_package(fresh_debian(tmp_path, root))
    prepared = truststore.prepare_store(context({}, root=host), "linux", truststore.datetime.date.today())
    assert prepared.newest is None
    assert [(ahead.asked, ahead.cancelled) for ahead in read_ahead] == [(False, True)]  # started, then stopped
    result = truststore_results(run(truststore, ctx=context({}, root=host)))
    assert result.code == "truststore.ok"
    assert "newest_known" not in result.details["package"]


def test_the_read_ahead_is_stopped_when_reading_the_store_fails(
    tmp_path: Path, root: Authority, read_ahead: list[Recorded], monkeypatch: pytest.MonkeyPatch
) -> None:
    require("lz4")
    host = with_package(lacking_debian(tmp_path, root))

    def unreadable(*args: object) -> None:
        raise OSError("the store went away")

    monkeypatch.setattr(truststore, "measure_store", unreadable)
    with pytest.raises(OSError, match="went away"):
        truststore.prepare_store(context({}, root=host), "linux", truststore.datetime.date.today())
    assert [(ahead.asked, ahead.cancelled) for ahead in read_ahead] == [(False, True)]


def test_a_stopped_reading_knows_no_newest_package(tmp_path: Path, root: Authority) -> None:
    require("lz4")
    host = with_package(fresh_debian(tmp_path, root))
    stop = threading.Event()
    assert apt_lists.offered_versions(host, 10, stop) == [OFFERED]
    stop.set()
    assert apt_lists.offered_versions(host, 10, stop) == []
    assert ca_package.newest(host, "debian", INSTALLED, 10, stop) == ca_package.Newest(False)


def test_the_read_ahead_hands_on_what_went_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(root: Path, timeout: float, stop: threading.Event | None = None) -> list[str]:
        raise RuntimeError("unreadable")

    monkeypatch.setattr(apt_lists, "offered_versions", broken)
    ahead = ca_package.Ahead(tmp_path, "debian", INSTALLED, 1)
    with pytest.raises(RuntimeError, match="unreadable"):
        ahead.result()
