"""The numbers the monitoring formats derive from a result's typed evidence.

Nagios perfdata and Prometheus metrics need numbers with a known meaning;
they read ``CheckResult.evidence`` (typed fields, docs/reports.md), never
keys of the free-form ``details``.
"""

from __future__ import annotations

import datetime as dt
import math

from dtdoctor.core.model import CheckResult


def latency_ms(result: CheckResult) -> float:
    """The probe's measured latency, or how long the probe took when it measured none."""
    measured = result.evidence.latency_ms
    return measured if measured is not None else float(result.duration_ms)


def days_to_expiry(moment: dt.datetime, now: dt.datetime) -> int:
    """Whole days from ``now`` until ``moment``; negative once it has passed."""
    return math.floor((moment - now).total_seconds() / 86400)
