"""The JSON report, exactly as the contract's schema."""

from __future__ import annotations

import json

from dtdoctor.core.model import Report
from dtdoctor.render import RenderOptions


def render(report: Report, options: RenderOptions) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"
