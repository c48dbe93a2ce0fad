"""Renderers: each turns one Report into text. A renderer never probes.

Renderer modules are imported only when their format is asked for, so a
console run never loads jinja2.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from dtdoctor.core.model import Report


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
    "html": "html",
    "junit": "junit",
    "nagios": "nagios",
    "prometheus": "prometheus",
}

# report-file suffix -> format
SUFFIXES: dict[str, str] = {
    ".json": "json",
    ".html": "html",
    ".htm": "html",
    ".xml": "junit",
    ".prom": "prometheus",
}

# What ``-o DIR/`` writes into a folder: the page for people and the data for tools.
DIRECTORY_FORMATS: tuple[str, ...] = ("html", "json")

# format -> file suffix for files named by dtdoctor itself
FILE_SUFFIXES: dict[str, str] = {"html": ".html", "json": ".json", "junit": ".xml", "prometheus": ".prom"}


def renderer(name: str) -> Renderer:
    module = importlib.import_module(f"dtdoctor.render.{FORMATS[name]}")
    return module  # a module satisfying the protocol


def render(report: Report, name: str, options: RenderOptions | None = None) -> str:
    return renderer(name).render(report, options or RenderOptions())
