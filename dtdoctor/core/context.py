"""The run context: what every check may read, built once per run in the CLI."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from dtdoctor.config import Settings

T = TypeVar("T")


@dataclass
class RunContext:
    """Settings plus the injectable world: environment variables and filesystem root.

    Checks that read ``/proc``, ``/etc`` or ``/run`` read them under ``root``,
    so tests can build a fake host in a temporary directory.
    """

    settings: Settings
    environ: Mapping[str, str] = field(default_factory=dict)
    root: Path = Path("/")
    started: float = field(default_factory=time.monotonic)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _computing: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _computed_by: dict[str, int] = field(default_factory=dict, repr=False)  # key -> the thread computing it

    @property
    def timeout(self) -> float:
        return self.settings.timeout

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Compute a host fact once per run (OneAgent paths, the EEC port that plans read ...).

        A fact one check measures and another judges is a probe's ``Finding.fact``
        instead, handed on by the runner along a declared edge.

        Computed by one thread: another that asks meanwhile (a probe asking for the EEC port
        while a plan runs ``oneagentctl`` for it) waits for that answer instead of asking again."""
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]  # type: ignore[no-any-return]
            if self._computed_by.get(key) == threading.get_ident():  # waiting for itself would hang the probe
                raise RuntimeError(f"the host fact {key!r} is asked for while it is computed")
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            with self._memo_lock:
                if key in self._memo:
                    return self._memo[key]  # type: ignore[no-any-return]
                self._computed_by[key] = threading.get_ident()
            try:
                value = compute()
            finally:
                with self._memo_lock:
                    del self._computed_by[key]
            with self._memo_lock:
                return self._memo.setdefault(key, value)  # type: ignore[no-any-return]

    def path(self, absolute: str) -> Path:
        """A host path such as ``/proc/1/environ`` under this run's root."""
        return self.root / absolute.lstrip("/")
