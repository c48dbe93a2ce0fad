"""A OneAgent host whose ``oneagentctl`` is slow to name the local ingest port: no other probe waits for it.

The eec target (``127.0.0.1:<port>``) takes ``oneagentctl --get-extensions-ingest-port``, which a real
``oneagentctl`` on a loaded host can take seconds to answer. The fake one below answers only once another
probe has finished: were the run to wait for the answer before starting its probes, the answer would never
come, ``oneagentctl`` would time out and the port would fall back to the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dtdoctor.checks import CHECKS
from dtdoctor.core.model import Status
from dtdoctor.core.runner import Runner, select_checks
from tests.support.factories import context
from tests.support.fake_hosts import fake_host

PORT = "14600"


def gated_oneagent(root: Path, gate: Path, calls: Path) -> dict[str, str]:
    """A OneAgent host whose port question is answered once ``gate`` exists; each question logged to ``calls``."""
    built = fake_host(root, "bare_metal")
    script = built.oneagent({"--get-extensions-ingest-port": PORT})
    waits = f'  --get-extensions-ingest-port) while [ ! -e {gate} ]; do sleep 0.05; done; echo {PORT} ;;\n'
    text = script.read_text().replace('case "$1" in\n', f'echo "$1" >> {calls}\ncase "$1" in\n' + waits, 1)
    script.write_text(text)
    return built.environ


def test_the_probes_start_while_oneagentctl_is_still_asked_for_the_port(tmp_path: Path) -> None:
    root, gate, calls = tmp_path / "host", tmp_path / "gate", tmp_path / "calls"
    environ = gated_oneagent(root, gate, calls)

    def progress(event: str, key: tuple[str, str], result: Any) -> None:
        if event == "done" and key == ("container", "local"):
            gate.touch()  # another probe has finished: only now does oneagentctl name the port

    ctx = context(environ, root, timeout=5)
    runner = Runner(select_checks(CHECKS, ["container", "oneagent", "eec"]), ctx, progress)
    results = {(result.id, result.target): result for result in runner.run()}
    # The port is OneAgent's own, so the target and the evidence name it.
    eec = results[("eec", f"127.0.0.1:{PORT}")]
    assert eec.details["port"] == {"port": int(PORT), "source": "oneagentctl"}
    assert results[("container", "local")].status is Status.PASS
    assert results[("oneagent", "local")].details["extensions_ingest_port"]["source"] == "oneagentctl"
    # The plan and the oneagent probe asked at the same time; oneagentctl was asked once.
    assert calls.read_text().split().count("--get-extensions-ingest-port") == 1
    # Report order is the registry's, whenever a plan came in.
    assert list(results) == [("container", "local"), ("oneagent", "local"), ("eec", f"127.0.0.1:{PORT}")]


def test_a_port_given_on_the_command_line_asks_oneagentctl_nothing(tmp_path: Path) -> None:
    root, gate, calls = tmp_path / "host", tmp_path / "gate", tmp_path / "calls"
    environ = gated_oneagent(root, gate, calls)
    ctx = context(environ, root, timeout=5, eec_port=15000)
    results = Runner(select_checks(CHECKS, ["eec"]), ctx).run()
    assert [(result.id, result.target) for result in results] == [("eec", "127.0.0.1:15000")]
    assert results[0].details["port"] == {"port": 15000, "source": "--eec-port"}
    assert "--get-extensions-ingest-port" not in (calls.read_text() if calls.exists() else "")


def test_eec_alone_waits_for_a_slow_oneagentctl(tmp_path: Path) -> None:
    """``--only eec``: nothing else is planned before the run, and oneagentctl takes over a second."""
    import threading

    root, gate, calls = tmp_path / "host", tmp_path / "gate", tmp_path / "calls"
    environ = gated_oneagent(root, gate, calls)
    threading.Timer(1.5, gate.touch).start()  # a loaded host's oneagentctl: within the timeout, not within 1 s
    results = Runner(select_checks(CHECKS, ["eec"]), context(environ, root, timeout=3)).run()
    assert [(result.id, result.target) for result in results] == [("eec", f"127.0.0.1:{PORT}")]
    assert results[0].details["port"] == {"port": int(PORT), "source": "oneagentctl"}
