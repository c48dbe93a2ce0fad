"""Renderers: each turns one Report into text. A renderer never probes.

Renderer modules are imported only when their format is asked for, so a
console run never loads jinja2.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from dtdoctor.model import Report


@dataclass(frozen=True)
class RenderOptions:
    color: bool = False
    verbosity: int = 0  # -1 quiet, 0 normal, 1 verbose
    unicode: bool = True


class Renderer(Protocol):
    def render(self, report: Report, options: RenderOptions) -> str: ...


# format name -> module under dtdoctor.render
FORMATS: dict[str, str] = {
    "console": "console",
    "json": "json_report",
}

# report-file suffix -> format
SUFFIXES: dict[str, str] = {
    ".json": "json",
}


def renderer(name: str) -> Renderer:
    module = importlib.import_module(f"dtdoctor.render.{FORMATS[name]}")
    return module  # a module satisfying the protocol


def render(report: Report, name: str, options: RenderOptions | None = None) -> str:
    return renderer(name).render(report, options or RenderOptions())
