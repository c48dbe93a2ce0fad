"""Container detection on fake hosts: every runtime, with the evidence that decided it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dtdoctor.host import container as detect
from tests.support.fake_hosts import FakeHost, fake_host


def run(host: FakeHost) -> detect.Detection:
    return detect.detect_container(host.root, host.environ)


def sources(found: detect.Detection) -> dict[str, str]:
    return {item.source: item.observed for item in found.evidence}


def test_bare_metal_is_no_container_and_lists_what_was_looked_at(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "bare_metal"))
    assert found.runtime == detect.NONE and not found.is_container
    seen = sources(found)
    assert seen["/.dockerenv"] == "absent"
    assert seen["/run/.containerenv"] == "absent"
    assert seen["/proc/self/mountinfo"] == "root filesystem is ext4"
    assert seen["KUBERNETES_SERVICE_HOST"] == "not set"
    assert "/proc/1/environ" in seen
    assert all(item.points_to is None for item in found.evidence)


def test_docker_cgroup_v1(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "docker_cgroup_v1"))
    assert found.runtime == detect.DOCKER
    assert not found.weak_only  # the cgroup path is strong evidence
    assert found.decided_by is not None and found.decided_by.source == "/proc/1/cgroup"
    assert "/.dockerenv" in sources(found)
    assert "layers of docker" in sources(found)["/proc/self/mountinfo"]


def test_docker_cgroup_v2_namespaced(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "docker_cgroup_v2"))
    assert found.runtime == detect.DOCKER
    seen = sources(found)
    assert "/sys/fs/cgroup" in seen  # systemd's running_in_cgroupns
    assert seen["/proc/self/cgroup"].startswith("0::/")


def test_dockerenv_alone_is_docker_but_weak(tmp_path: Path) -> None:
    host = FakeHost(tmp_path).linux_basics()
    host.write("/.dockerenv")
    found = run(host)
    assert found.runtime == detect.DOCKER
    assert found.weak_only
    assert detect.qualifiers(found) == ["weak evidence only"]


def test_podman(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "podman"))
    assert found.runtime == detect.PODMAN
    assert sources(found)["/run/.containerenv"] == "present"


def test_kubernetes_wins_and_names_the_runtime_below(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "kubernetes"))
    assert found.runtime == detect.KUBERNETES
    assert found.underlying == detect.CONTAINERD
    assert found.decided_by is not None
    assert found.decided_by.source == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert sources(found)["KUBERNETES_SERVICE_HOST"] == "set"


def test_kubernetes_variable_alone_is_not_enough(tmp_path: Path) -> None:
    host = fake_host(tmp_path, "bare_metal")
    host.environ["KUBERNETES_SERVICE_HOST"] = "10.96.0.1"
    assert run(host).runtime == detect.NONE


def test_containerd(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "containerd"))
    assert found.runtime == detect.CONTAINERD


def test_lxc(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "lxc"))
    assert found.runtime == detect.LXC
    assert found.decided_by is not None and found.decided_by.source == "/run/systemd/container"


def test_systemd_nspawn_from_the_container_manager_file(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "nspawn"))
    assert found.runtime == detect.NSPAWN
    assert found.decided_by is not None and found.decided_by.source == "/run/host/container-manager"


def test_wsl_is_not_a_container(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "wsl"))
    assert found.runtime == detect.WSL and found.wsl and not found.is_container
    assert "WSL2" in sources(found)["/proc/sys/kernel/osrelease"]


def test_docker_desktop_on_a_wsl_kernel_is_a_container(tmp_path: Path) -> None:
    found = run(fake_host(tmp_path, "docker_desktop"))
    assert found.runtime == detect.DOCKER and found.wsl


def test_pid1_container_variable_and_empty_value(tmp_path: Path) -> None:
    host = FakeHost(tmp_path).linux_basics().pid1_environ(container="lxc-libvirt")
    assert run(host).runtime == detect.LXC
    other = FakeHost(tmp_path / "b").linux_basics().pid1_environ(container="")
    found = run(other)
    assert found.runtime == detect.NONE
    assert any("empty" in item.observed for item in found.evidence)


def test_container_oci_falls_back_to_the_files(tmp_path: Path) -> None:
    host = FakeHost(tmp_path).linux_basics().pid1_environ(container="oci")
    host.write("/run/.containerenv")
    assert run(host).runtime == detect.PODMAN
    bare = FakeHost(tmp_path / "b").linux_basics().pid1_environ(container="oci")
    bare.cgroup2_namespaced()
    assert run(bare).runtime == detect.OTHER


def test_openvz(tmp_path: Path) -> None:
    host = FakeHost(tmp_path).linux_basics()
    host.mkdir("/proc/vz")
    assert run(host).runtime == detect.OPENVZ
    host.mkdir("/proc/bc")  # both present: the OpenVZ host itself
    assert run(host).runtime == detect.NONE


def test_unreadable_pid1_environ_falls_back_to_own_environment(tmp_path: Path) -> None:
    host = FakeHost(tmp_path).linux_basics()
    host.environ["container"] = "podman"
    found = run(host)
    assert found.runtime == detect.PODMAN
    assert "not readable" in sources(found)["/proc/1/environ"] or "missing" in sources(found)["/proc/1/environ"]


@pytest.mark.parametrize(
    "line, runtime",
    [
        ("0::/system.slice/docker-" + "a" * 64 + ".scope", detect.DOCKER),
        ("0::/machine.slice/libpod-" + "b" * 64 + ".scope", detect.PODMAN),
        ("5:cpu:/kubepods/besteffort/pod1/abc", detect.KUBERNETES),
        ("0::/lxc.payload.web/init.scope", detect.LXC),
    ],
)
def test_cgroup_patterns(tmp_path: Path, line: str, runtime: str) -> None:
    host = FakeHost(tmp_path).linux_basics().cgroup(line + "\n")
    evidence = detect.cgroup_evidence(host.root)
    assert evidence and evidence[0].points_to == runtime


def test_empty_root_never_fails(tmp_path: Path) -> None:
    found = detect.detect_container(tmp_path, {})
    assert found.runtime == detect.NONE
    assert found.to_json()["runtime"] is None
