"""Where the wall time of a ``dtdoctor check`` goes outside the checks: start-up before the run, exit after it.

Run from the repository root:  python bench/phases.py [--runs N]

Each measured command is a real subprocess, run from compiled bytecode as an
installed package runs (see ``bench/versus_curl.py``). The child is started as
``python -c <marks> check ...``: the marks code installs an audit hook
(``sys.addaudithook``, which observes and changes nothing) and then runs
``dtdoctor`` as ``python -m dtdoctor`` would. The hook writes the monotonic
time and the process CPU time, down a pipe of its own, at:

- ``ready``: the interpreter has started (site imported), nothing of dtdoctor yet;
- ``run.start`` / ``run.end``: the runner's audit events ``dtdoctor.run.start``
  and ``dtdoctor.run.end``, raised when the run starts and when the last result is in;
- ``connect``: the first ``socket.connect`` of the process (the first network probe in its syscall).

This bench records when it started the child (``spawn``), when the child's
last bytes of stdout arrived (``output``) and when it was reaped (``exit``);
``CLOCK_MONOTONIC`` is one clock for every process, so the marks subtract.
The whole process's CPU time comes from its rusage.

Scenarios: the healthy check of ``bench/versus_curl.py`` against loopback
test servers, ``--only tcp`` of it, and 8 black-holed endpoints at
``--timeout 2``. Prints a Markdown table of medians, in milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.versus_curl import BLACKHOLE_TIMEOUT, check_command, clean_env, installed_env, servers
from tests.support.listeners import blackhole_port

# Runs in the child before anything of dtdoctor: the hook only writes marks, once per name.
MARKS = """
import os, sys, time
_fd, _seen = int(sys.argv.pop(1)), set()
def _mark(name):
    if name not in _seen:
        _seen.add(name)
        os.write(_fd, ("%s %.6f %.6f\\n" % (name, time.monotonic(), time.process_time())).encode())
_names = {"socket.connect": "connect", "dtdoctor.run.start": "run.start", "dtdoctor.run.end": "run.end"}
sys.addaudithook(lambda event, args: event in _names and _mark(_names[event]))
_mark("ready")
import runpy
runpy.run_module("dtdoctor", run_name="__main__", alter_sys=True)
"""

PHASES = (
    ("start-up: spawn to run start", "spawn", "run.start"),
    ("  of which interpreter start", "spawn", "ready"),
    ("run start to first connect()", "run.start", "connect"),
    ("the run", "run.start", "run.end"),
    ("run end to last stdout bytes", "run.end", "output"),
    ("last stdout bytes to exit", "output", "exit"),
    ("run end to exit", "run.end", "exit"),
    ("whole process", "spawn", "exit"),
)


@dataclass
class Marks:
    wall: dict[str, float] = field(default_factory=dict)  # monotonic seconds, by mark
    cpu: dict[str, float] = field(default_factory=dict)  # the child's process CPU seconds, by mark
    cpu_total: float = 0.0
    code: int = 0

    def span(self, first: str, last: str) -> float | None:
        if first in self.wall and last in self.wall:
            return (self.wall[last] - self.wall[first]) * 1000
        return None


def measure(arguments: Sequence[str], env: dict[str, str] | None = None) -> Marks:
    """One child process running ``dtdoctor <arguments>``, with its marks."""
    reading, writing = os.pipe()
    marks = Marks()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    marks.wall["spawn"] = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", MARKS, str(writing), *arguments], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=installed_env(env), pass_fds=(writing,))
    os.close(writing)
    assert child.stdout is not None
    reader = threading.Thread(target=_read_output, args=(child.stdout, marks))
    reader.start()
    marks.code = child.wait()
    marks.wall["exit"] = time.monotonic()
    reader.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    marks.cpu_total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with os.fdopen(reading, encoding="ascii") as lines:
        for line in lines:
            name, wall, cpu = line.split()
            marks.wall[name], marks.cpu[name] = float(wall), float(cpu)
    return marks


def _read_output(stream: Iterator[bytes], marks: Marks) -> None:
    for _ in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        marks.wall["output"] = time.monotonic()


def median(values: list[float | None]) -> str:
    known = [value for value in values if value is not None]
    return f"{statistics.median(known):.0f}" if known else "n/a"


def column(samples: list[Marks]) -> list[str]:
    """One scenario's cells: each phase, the CPU spent before the run, the whole CPU, the exit codes."""
    cells = [median([s.span(first, last) for s in samples]) for _, first, last in PHASES]
    cells.append(median([s.cpu["run.start"] * 1000 if "run.start" in s.cpu else None for s in samples]))
    cells.append(median([s.cpu_total * 1000 for s in samples]))
    return [*cells, ",".join(str(code) for code in sorted({s.code for s in samples}))]


@contextlib.contextmanager
def black_holed(count: int) -> Iterator[list[str]]:
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(blackhole_port()) for _ in range(count)]
        arguments = ["check", "--timeout", str(BLACKHOLE_TIMEOUT), "-u", f"https://127.0.0.1:{ports[0]}/e/bench"]
        for port in ports[1:]:
            arguments += ["--activegate", f"https://127.0.0.1:{port}/e/bench"]
        yield arguments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds of each scenario (medians are reported)")
    options = parser.parse_args()
    table: dict[str, list[Marks]] = {"healthy check": [], "healthy check --only tcp": [],
                                     "8 black-holed endpoints, --timeout 2": []}
    with servers() as (setup, eec_port), black_holed(8) as holed:
        healthy = check_command(setup, eec_port)[3:]  # without "python -m dtdoctor"
        measure(healthy)  # warm the page cache and write the compiled bytecode
        for _ in range(options.runs):  # interleaved, so a busy moment of the machine hits every scenario
            table["healthy check"].append(measure(healthy))
            table["healthy check --only tcp"].append(measure([*healthy, "--only", "tcp"]))
            table["8 black-holed endpoints, --timeout 2"].append(measure(holed, clean_env()))
    one, five, fifteen = os.getloadavg()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {one:.2f} {five:.2f} {fifteen:.2f}\n")
    names = [name for name, _, _ in PHASES] + ["CPU before the run starts", "CPU of the whole process", "exit code"]
    columns = [column(samples) for samples in table.values()]
    print("| ms, median of " + str(options.runs) + " | " + " | ".join(table) + " |")
    print("| --- |" + " ---: |" * len(table))
    for index, name in enumerate(names):
        print(f"| {name} | " + " | ".join(cells[index] for cells in columns) + " |")


if __name__ == "__main__":
    main()
