"""Fake host filesystems in a temporary directory: bare metal, container runtimes, WSL, OneAgent.

Each builder writes only the files the real thing would show under ``/proc``,
``/run``, ``/sys`` and ``/etc``, so detection code runs unchanged against
``root=tmp_path``.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Mapping

CONTAINER_ID = "4f1c2a9be07d" + "0" * 52
DOCKER_OVERLAY = "rw,lowerdir=/var/lib/docker/overlay2/l/ABC,upperdir=/var/lib/docker/overlay2/x/diff"


class FakeHost:
    """A filesystem root under construction."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.environ: dict[str, str] = {}

    def write(self, absolute: str, content: str | bytes = "") -> Path:
        path = self.root / absolute.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def mkdir(self, absolute: str) -> Path:
        path = self.root / absolute.lstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        return path

    # --- pieces ---------------------------------------------------------

    def linux_basics(self, osrelease: str = "6.1.0-18-amd64") -> FakeHost:
        self.write("/etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n')
        self.write("/proc/sys/kernel/osrelease", osrelease + "\n")
        self.write("/proc/self/status", "Name:\tpython3\nTracerPid:\t0\n")
        self.write("/proc/meminfo", "MemTotal:       16314480 kB\nMemFree:         1000000 kB\n")
        self.write("/proc/uptime", "12345.67 23456.78\n")
        self.write("/etc/timezone", "Europe/Vienna\n")
        self.mkdir("/proc/1")
        return self

    def cgroup(self, pid1: str, self_: str | None = None) -> FakeHost:
        self.write("/proc/1/cgroup", pid1)
        self.write("/proc/self/cgroup", self_ if self_ is not None else pid1)
        return self

    def root_mount(self, fstype: str, options: str = "rw") -> FakeHost:
        self.write(
            "/proc/self/mountinfo",
            f"100 1 0:50 / / rw,relatime - {fstype} {fstype} {options}\n"
            "101 100 0:51 / /proc rw,nosuid - proc proc rw\n",
        )
        return self

    def pid1_environ(self, **variables: str) -> FakeHost:
        text = "".join(f"{name}={value}\0" for name, value in {"PATH": "/usr/bin", **variables}.items())
        self.write("/proc/1/environ", text)
        return self

    def cgroup2_host(self) -> FakeHost:
        """/sys/fs/cgroup as the real root of a cgroup v2 hierarchy."""
        self.write("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n")
        self.write("/sys/kernel/cgroup/features", "nsdelegate\n")
        return self

    def cgroup2_namespaced(self) -> FakeHost:
        """/sys/fs/cgroup as a nested cgroup mounted in a cgroup namespace."""
        self.cgroup2_host()
        self.write("/sys/fs/cgroup/cgroup.events", "populated 1\nfrozen 0\n")
        self.write("/sys/fs/cgroup/cgroup.type", "domain\n")
        return self

    # --- whole hosts ----------------------------------------------------

    def bare_metal(self) -> FakeHost:
        self.linux_basics()
        self.cgroup("0::/init.scope\n", "0::/user.slice/user-1000.slice/session-3.scope\n")
        self.cgroup2_host()
        self.root_mount("ext4", "rw,errors=remount-ro")
        self.pid1_environ(HOME="/", TERM="linux")
        return self

    def dockerenv_only(self) -> FakeHost:
        """A plain host whose only container evidence is a ``/.dockerenv`` (left by an image, or by hand)."""
        self.bare_metal()
        self.write("/.dockerenv")
        return self

    def docker_cgroup_v1(self) -> FakeHost:
        self.linux_basics()
        self.write("/.dockerenv")
        controllers = ((12, "pids"), (4, "memory"), (1, "name=systemd"))
        lines = "".join(f"{number}:{name}:/docker/{CONTAINER_ID}\n" for number, name in controllers)
        self.cgroup(lines)
        self.root_mount("overlay", DOCKER_OVERLAY)
        return self

    def docker_cgroup_v2(self) -> FakeHost:
        self.linux_basics()
        self.write("/.dockerenv")
        self.cgroup("0::/\n")
        self.cgroup2_namespaced()
        self.root_mount("overlay", DOCKER_OVERLAY)
        return self

    def podman(self) -> FakeHost:
        self.linux_basics()
        self.write("/run/.containerenv", 'engine="podman-4.9.3"\nname="web"\n')
        self.cgroup("0::/\n")
        self.cgroup2_namespaced()
        self.root_mount("overlay", "rw,lowerdir=/var/lib/containers/storage/overlay/l/A")
        self.environ["container"] = "podman"
        return self

    def kubernetes(self) -> FakeHost:
        self.linux_basics()
        self.cgroup(f"0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-{CONTAINER_ID}.scope\n")
        self.mkdir("/var/run/secrets/kubernetes.io/serviceaccount")
        self.write("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "default")
        self.root_mount("overlay", "rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/1/fs")
        self.environ.update({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"})
        return self

    def containerd(self) -> FakeHost:
        self.linux_basics()
        self.cgroup(f"11:memory:/system.slice/containerd.service/default/{CONTAINER_ID}\n")
        self.root_mount("overlay", "rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/7/fs")
        return self

    def lxc(self) -> FakeHost:
        self.linux_basics()
        self.cgroup("12:pids:/lxc/web01\n1:name=systemd:/lxc/web01/init.scope\n")
        self.write("/run/systemd/container", "lxc\n")
        self.root_mount("zfs", "rw,xattr")
        return self

    def nspawn(self) -> FakeHost:
        self.linux_basics()
        self.write("/run/systemd/container", "systemd-nspawn\n")
        self.write("/run/host/container-manager", "systemd-nspawn\n")
        self.cgroup("0::/init.scope\n", "0::/system.slice/sshd.service\n")
        self.cgroup2_namespaced()
        self.root_mount("ext4")
        return self

    def wsl(self) -> FakeHost:
        self.linux_basics(osrelease="5.15.153.1-microsoft-standard-WSL2")
        self.cgroup("0::/init.scope\n", "0::/user.slice\n")
        self.cgroup2_host()
        self.root_mount("ext4")
        return self

    def docker_desktop(self) -> FakeHost:
        """A Docker container on Docker Desktop: a WSL 2 kernel underneath."""
        self.docker_cgroup_v2()
        self.write("/proc/sys/kernel/osrelease", "5.15.153.1-microsoft-standard-WSL2\n")
        return self

    # --- OneAgent -------------------------------------------------------

    def oneagent(
        self,
        answers: Mapping[str, str] | None = None,
        install_path: str = "/opt/dynatrace/oneagent",
        version_file: str | None = None,
    ) -> Path:
        """Install a fake OneAgent with an ``oneagentctl`` that answers like the real one."""
        defaults = {
            "--version": "1.321.51.20250905-075429",
            "--get-monitoring-mode": "fullstack",
            "--get-host-group": "production_web",
            "--get-network-zone": "vienna.dc1",
            "--get-proxy": "",
            "--get-no-proxy": "",
            "--get-server": "",
            "--get-extensions-ingest-port": "14499",
        }
        defaults.update(answers or {})
        self.mkdir(f"{install_path}/agent/lib64")
        if version_file:
            self.write(f"{install_path}/agent/installer.version", version_file + "\n")
        self.mkdir("/var/lib/dynatrace/oneagent/agent/config")

        def quoted(value: str) -> str:
            return "'" + value.replace("'", "'\\''") + "'"

        cases = "".join(f"  {option}) printf '%s\\n' {quoted(value)} ;;\n" for option, value in defaults.items())
        script = self.write(
            f"{install_path}/agent/tools/oneagentctl",
            '#!/bin/sh\ncase "$1" in\n' + cases + '  *) echo "Unknown parameter: $1" >&2; exit 1 ;;\nesac\n',
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        if install_path != "/opt/dynatrace/oneagent":
            self.write(
                "/etc/systemd/system/oneagent.service",
                "[Service]\nType=forking\n"
                f"ExecStart={install_path}/agent/initscripts/oneagent start\n"
                f"ExecStop={install_path}/agent/initscripts/oneagent stop\n",
            )
        return script


def fake_host(root: Path, kind: str) -> FakeHost:
    """A fake host of one of the builder kinds: ``bare_metal``, ``docker_cgroup_v1``, ``kubernetes`` ..."""
    builder = FakeHost(root)
    getattr(builder, kind)()
    return builder


def running_program(directory: Path, name: str) -> list[str]:
    """A command line that runs a long sleep under the process name ``name`` (a copy of sleep)."""
    source = Path("/bin/sleep") if Path("/bin/sleep").exists() else Path("/usr/bin/sleep")
    target = directory / name
    target.write_bytes(source.read_bytes())
    target.chmod(0o755)
    return [str(target), "30"]
