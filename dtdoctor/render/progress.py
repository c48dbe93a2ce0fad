"""The live progress line on stderr while checks run (terminals only)."""

from __future__ import annotations

from typing import TextIO

from dtdoctor.core.model import CheckResult


class ProgressLine:
    """Redraws one status line in place; erased when the run ends."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.running: dict[tuple[str, str], None] = {}

    def __call__(self, event: str, key: tuple[str, str], result: CheckResult | None) -> None:
        if event == "planned":  # a probe planned once the run had started
            self.total += 1
            return
        if event == "start":
            self.running[key] = None
        else:
            self.running.pop(key, None)
            self.done += 1
        waiting = ", ".join(f"{check_id} {target}" for check_id, target in list(self.running)[:3])
        more = f" +{len(self.running) - 3}" if len(self.running) > 3 else ""
        text = f"checking: {self.done}/{self.total} done" + (f" · running {waiting}{more}" if waiting else "")
        self.stream.write("\r\033[K" + text[:150])
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()
