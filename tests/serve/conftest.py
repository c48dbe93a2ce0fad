"""``dtdoctor serve`` as a real process on a real listening socket, read over HTTP."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pytest

LISTENING = re.compile(r"listening on http://(\[[^\]]+\]|[^:/]+):([0-9]+)/")


@dataclass
class Page:
    status: int
    content_type: str
    body: str


@dataclass
class Served:
    """A running ``dtdoctor serve``: its address, its stderr lines so far, and a way to read its pages."""

    process: subprocess.Popen[str]
    host: str = ""
    port: int = 0
    lines: list[str] = field(default_factory=list)
    _incoming: queue.Queue[str] = field(default_factory=queue.Queue)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._incoming.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first stderr line (seen before or arriving within ``timeout``) that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            for line in self.lines[checked:]:
                match = re.search(pattern, line)
                if match:
                    return match
            checked = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r} in {timeout}s; stderr so far: {self.lines}")
            try:
                self.lines.append(self._incoming.get(timeout=min(left, 0.1)))
            except queue.Empty:
                if self.process.poll() is not None and self._incoming.empty():
                    raise AssertionError(f"dtdoctor serve exited {self.process.returncode}: {self.lines}") from None

    def poll(self, condition: Callable[[], bool], timeout: float = 20.0) -> bool:
        """Whether ``condition`` holds within ``timeout`` (asked again every 0.1 s while the process runs)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or self.process.poll() is not None:
                return False
            time.sleep(0.1)
        return True

    def get(self, path: str, host: str = "") -> Page:
        url = f"http://{host or self.host}:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return Page(answer.status, answer.headers.get("Content-Type", ""), answer.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            return Page(error.code, error.headers.get("Content-Type", ""), error.read().decode("utf-8"))

    def stop(self, signal_number: int = signal.SIGTERM) -> float:
        """Send the signal; how long the process took to end."""
        started = time.monotonic()
        self.process.send_signal(signal_number)
        self.process.wait(timeout=10)
        return time.monotonic() - started


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dtdoctor", "serve", "--listen", "127.0.0.1:0", *args]


def clean_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DT_") and key.lower() not in ("https_proxy", "http_proxy", "all_proxy")}
    env.update(extra or {})
    return env


@pytest.fixture
def start_serve() -> Iterator[object]:
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None, command: list[str] | None = None) -> Served:
        process = subprocess.Popen(command or serve_command(*args), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   env=clean_environ(env))
        served = Served(process)
        threading.Thread(target=served._read, daemon=True).start()
        started.append(served)
        match = served.wait_for(LISTENING.pattern)
        served.host, served.port = match.group(1), int(match.group(2))
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(timeout=10)
