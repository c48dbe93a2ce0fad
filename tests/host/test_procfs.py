"""Processes and who holds a listening port, read from /proc: a built /proc, and psutil's answer on this machine."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import pytest

from dtdoctor.host import procfs
from dtdoctor.host.processes import NOT_PERMITTED, listener_owner

HELPER = "/opt/dynatrace/oneagent/agent/lib64/oneagenthelper"
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def row(address: str, port: int, state: str, inode: int) -> str:
    return (f"   0: {procfs.kernel_hex(address)}:{port:04X} {'0' * 8}:0000 {state} 00000000:00000000 "
            f"00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n")


def build_proc(tmp_path: Path, tcp: list[str], tcp6: Sequence[str] = (),
               processes: Mapping[int, Mapping[str, Any]] | None = None) -> Path:
    """A /proc with socket tables and processes: ``fds`` are the targets of their descriptor links."""
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net/tcp").write_text(HEADER + "".join(tcp))
    (proc / "net/tcp6").write_text(HEADER + "".join(tcp6))
    for pid, facts in (processes or {}).items():
        folder = proc / str(pid)
        (folder / "fd").mkdir(parents=True)
        for number, link in enumerate(facts.get("fds", [])):
            os.symlink(link, folder / "fd" / str(number))
        (folder / "comm").write_text(f"{facts.get('comm', '')}\n")
        (folder / "cmdline").write_bytes(b"".join(arg.encode() + b"\0" for arg in facts.get("args", [])))
        (folder / "status").write_text(f"Name:\t{facts.get('comm')}\nUid:\t{facts.get('uid', 0)}\t0\t0\t0\n")
        if "exe" in facts:
            os.symlink(facts["exe"], folder / "exe")
    return proc


def test_the_holder_of_a_socket_listening_on_loopback_is_named(tmp_path: Path) -> None:
    proc = build_proc(
        tmp_path,
        [row("127.0.0.1", 14499, "0A", 5150), row("127.0.0.1", 14499, "01", 6160)],
        processes={
            10: {"comm": "sshd", "fds": ["/dev/null", "socket:[6160]"]},
            42: {"comm": "oneagenthelper", "fds": ["pipe:[1]", "socket:[5150]"], "uid": 0,
                 "args": [HELPER, "-x"], "exe": HELPER},
        },
    )
    owner = procfs.listener_owner_from_proc(14499, "127.0.0.1", proc)
    assert owner is not None and owner.found and owner.process is not None
    assert (owner.process.pid, owner.process.name, owner.process.exe) == (42, "oneagenthelper", HELPER)
    assert owner.process.user == "root"


def test_a_socket_on_every_address_counts_and_another_address_does_not(tmp_path: Path) -> None:
    processes = {7: {"comm": "dynatraceeec", "fds": ["socket:[700]"]}, 8: {"comm": "other", "fds": ["socket:[800]"]}}
    every = build_proc(tmp_path / "a", [], [row("::", 14499, "0A", 700)], processes)
    elsewhere = build_proc(tmp_path / "b", [row("10.0.0.5", 14499, "0A", 800)], processes=processes)
    found = procfs.listener_owner_from_proc(14499, "127.0.0.1", every)
    assert found is not None and found.process is not None and found.process.pid == 7
    assert procfs.listener_owner_from_proc(14499, "127.0.0.1", elsewhere) == (
        procfs.Owner(False, None, "no listening socket seen on that port"))


def test_a_socket_nobody_readable_holds_is_not_permitted(tmp_path: Path) -> None:
    bash = {3: {"comm": "bash", "fds": ["/dev/tty"]}}
    proc = build_proc(tmp_path, [row("0.0.0.0", 14499, "0A", 900)], processes=bash)
    owner = procfs.listener_owner_from_proc(14499, "127.0.0.1", proc)
    assert owner == procfs.Owner(True, None, "the owning process is " + NOT_PERMITTED)


def test_a_long_name_is_completed_from_the_command_line_as_psutil_does(tmp_path: Path) -> None:
    proc = build_proc(tmp_path, [row("127.0.0.1", 1, "0A", 1)], processes={
        5: {"comm": "extensionsmodu", "fds": ["socket:[1]"], "args": ["/opt/x/extensionsmodule", "--run"]},
        6: {"comm": "dynatraceextens", "fds": [], "args": ["/opt/x/other-name"]},
        7: {"comm": "dynatraceextens", "fds": [], "args": ["/opt/x/dynatraceextensionsmodule", "-c"]},
    })
    assert procfs.describe(proc, 5).name == "extensionsmodu"  # 14 bytes: comm is the whole name
    assert procfs.describe(proc, 6).name == "dynatraceextens"  # the command line does not continue it
    assert procfs.describe(proc, 7).name == "dynatraceextensionsmodule"


def test_without_socket_tables_the_caller_asks_psutil(tmp_path: Path) -> None:
    assert procfs.listener_owner_from_proc(14499, "127.0.0.1", tmp_path) is None
    pytest.importorskip("psutil")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        via_psutil = listener_owner(port, "127.0.0.1", tmp_path)  # no /proc tables there: psutil answers
        via_proc = listener_owner(port, "127.0.0.1")
    assert via_psutil.process is not None and via_psutil.process.pid == os.getpid()
    assert via_psutil == via_proc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_this_machines_proc_names_the_holder_psutil_names() -> None:
    psutil = pytest.importorskip("psutil")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        owner = procfs.listener_owner_from_proc(port, "127.0.0.1")  # not psutil's answer through the fallback
        assert owner is not None
        connections = psutil.net_connections(kind="tcp")
        listening = [c for c in connections if c.laddr and c.laddr[1] == port and c.status == psutil.CONN_LISTEN]
        described = psutil.Process(listening[0].pid)
    assert owner.process is not None and owner.process.pid == listening[0].pid == os.getpid()
    assert (owner.process.name, owner.process.exe, owner.process.user) == (
        described.name(), described.exe(), described.username())
