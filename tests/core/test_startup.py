"""What a real ``dtdoctor check`` process has imported when its run starts.

Modules only some probes need (an HTTP request, the process table, a
certificate's extensions, a trust store) are imported by those probes, in
their threads, while others wait on the network: the run starts without them.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imported by the probes that use them, never before the run.
LATE = ("http.client", "email.parser", "json", "psutil", "cryptography", "certifi", "truststore", "httpx", "jinja2",
        # Standard modules only some probes need: TLS, a certificate's fingerprint, rpm asked, apt's compressed lists.
        "ssl", "hashlib", "subprocess", "ctypes")

# The watcher itself imports nothing beyond sys (json is one of the modules watched).
WATCH = textwrap.dedent("""
    import sys
    late, seen = sys.argv.pop(1).split(","), {}
    def hook(event, args):
        if event == "dtdoctor.run.start" and not seen:
            seen.update((name, name in sys.modules) for name in late)
            sys.stderr.write("imported at the run's start: " + repr(seen) + "\\n")
    sys.addaudithook(hook)
    import runpy
    runpy.run_module("dtdoctor", run_name="__main__", alter_sys=True)
""")


def imported_at_run_start(*arguments: str) -> dict[str, bool]:
    environment = {"PATH": os.environ.get("PATH", ""), "DT_API_TOKEN": "dt0c01.not-a-token"}
    completed = subprocess.run([sys.executable, "-c", WATCH, ",".join(LATE), *arguments], capture_output=True,
                               text=True, timeout=60, cwd=ROOT, env=environment)
    assert completed.returncode in (0, 1, 2), completed.stderr
    line = next(line for line in completed.stderr.splitlines() if line.startswith("imported at the run's start: "))
    seen: dict[str, bool] = ast.literal_eval(line.split(": ", 1)[1])
    return seen


def test_a_run_starts_before_the_modules_only_some_probes_need_are_imported():
    # Every check planned (an endpoint on a closed port, so it ends at once): the whole registry is loaded.
    seen = imported_at_run_start("check", "-u", "https://127.0.0.1:9/e/abc12345", "--timeout", "1", "-f", "json")
    assert seen == dict.fromkeys(LATE, False)
