"""The real command ends its process without the interpreter's teardown: nothing written may be lost.

Every test runs the installed console script (or ``python -m dtdoctor``) in a
subprocess, where ``dtdoctor.cli.main`` ends the process with ``os._exit``;
in-process callers (``CliRunner``, the other tests) still get ``SystemExit``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from dtdoctor.cli import DtDoctorGroup, cli
from tests.support.cli import invoke
from tests.support.factories import CANARY_SECRET, CANARY_TOKEN

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).with_name("dtdoctor")
COMMANDS = {
    "console script": [str(CONSOLE_SCRIPT)],
    "python -m dtdoctor": [sys.executable, "-m", "dtdoctor"],
}


def environment(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), **extra}


@pytest.fixture(params=sorted(COMMANDS))
def command(request) -> list[str]:
    if request.param == "console script" and not CONSOLE_SCRIPT.exists():
        pytest.skip("dtdoctor is not installed beside this Python")
    return COMMANDS[request.param]


def test_the_whole_output_and_the_exit_code_arrive(command):
    # `explain` alone lists every code: far more than one pipe buffer's worth of lines.
    completed = subprocess.run([*command, "explain"], capture_output=True, timeout=60, env=environment())
    in_process = invoke("explain")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.decode() == in_process.stdout
    assert completed.stderr == b""


def test_a_usage_error_keeps_its_line_and_exit_code(command):
    completed = subprocess.run([*command, "check", "--timeout", "x"], capture_output=True, timeout=60,
                               env=environment())
    assert completed.returncode == 3
    assert completed.stderr.decode().startswith("dtdoctor: error: ")
    assert completed.stderr.endswith(b"\n")


def test_report_files_and_the_bundle_are_written_completely(command, tmp_path):
    outputs = [tmp_path / name for name in ("r.json", "r.html", "r.xml", "r.prom")]
    arguments = [*command, "check", "--only", "config", "-f", "json", "--bundle", str(tmp_path / "b.zip")]
    for path in outputs:
        arguments += ["-o", str(path)]
    completed = subprocess.run(arguments, capture_output=True, timeout=60,
                               env=environment(DT_API_TOKEN=CANARY_TOKEN + "x"))  # malformed: a failure
    assert completed.returncode == 2, completed.stderr
    on_stdout = json.loads(completed.stdout)
    assert json.loads(outputs[0].read_text(encoding="utf-8"))["checks"] == on_stdout["checks"]
    assert outputs[1].read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert outputs[2].read_text(encoding="utf-8").rstrip().endswith("</testsuites>")
    assert outputs[3].read_text(encoding="utf-8").endswith("\n")
    with zipfile.ZipFile(tmp_path / "b.zip") as bundle:
        assert bundle.testzip() is None
        assert any(name.endswith(".json") for name in bundle.namelist())
    for path in [*outputs, tmp_path / "b.zip"]:
        assert CANARY_SECRET.encode() not in path.read_bytes()


def test_a_reader_that_left_keeps_the_verdicts_exit_code(command):
    process = subprocess.Popen([*command, "check", "--only", "config.token", "-v"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=environment(DT_API_TOKEN="not-a-token-at-all"))
    assert process.stdout is not None
    process.stdout.close()  # gone before the report is written
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert b"Traceback" not in err and b"Exception ignored" not in err


def test_exit_handlers_run_first_so_the_single_files_temporary_folder_goes(tmp_path):
    """The .pyz launcher removes a fresh temporary folder at exit; the quick end of the process runs it."""
    scratch = tmp_path / "tmp"
    scratch.mkdir(mode=0o700)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "scripts" / "pyzboot")!r})
        import _dtdoctor_boot
        print(_dtdoctor_boot.fresh_temporary(), flush=True)
        sys.argv = ["dtdoctor", "explain", "url.ok"]
        from dtdoctor.cli import main
        main()
    """)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60,
                               env=environment(TMPDIR=str(scratch)), cwd=ROOT)
    folder, *explained = completed.stdout.decode().splitlines()
    assert completed.returncode == 0, completed.stderr
    assert Path(folder).parent == scratch
    assert not Path(folder).exists()
    assert explained[0].startswith("url.ok")


def test_in_process_callers_still_get_system_exit():
    assert isinstance(cli, DtDoctorGroup)
    with pytest.raises(SystemExit) as ended:
        cli.main(["explain", "url.ok"], prog_name="dtdoctor")
    assert ended.value.code == 0


def test_the_process_ends_without_the_interpreters_teardown():
    """What the quick end is for: objects the teardown would free one by one are left to the operating system."""
    script = textwrap.dedent("""
        import sys

        class Witness:
            def __del__(self):
                sys.__stderr__.write("torn down\\n")

        kept = Witness()
        sys.argv = ["dtdoctor", "explain", "url.ok"]
        from dtdoctor.cli import main
        main()
    """)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, env=environment(),
                               cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.decode().startswith("url.ok")
    assert b"torn down" not in completed.stderr
