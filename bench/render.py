"""Renderer benchmark: every format for a 50-result report.

Targets: rendering all formats takes under 100 ms, and the HTML stays under
200 KB. "warm" is the median of repeated renders: the rendering itself,
which the target is about. "first" is a fresh process's first render and adds
one-time costs (importing jinja2 and compiling the template, together
roughly 0.1-0.4 s depending on the disk cache); it is printed for
information. Exits 1 when a target is missed.

    python bench/render.py [--results 50] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dtdoctor.render import FORMATS, render
from tests.support.samples import many_results

TOTAL_TARGET_MS = 100.0
HTML_TARGET_BYTES = 200_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time every renderer on one report.")
    parser.add_argument("--results", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    report = many_results(args.results)

    rows: list[tuple[str, float, float, int]] = []
    for name in FORMATS:
        started = time.perf_counter()
        text = render(report, name)
        first = (time.perf_counter() - started) * 1000
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            render(report, name)
            timings.append((time.perf_counter() - started) * 1000)
        rows.append((name, first, statistics.median(timings), len(text.encode("utf-8"))))

    first_total = sum(row[1] for row in rows)
    warm_total = sum(row[2] for row in rows)
    html_size = next(size for name, _, _, size in rows if name == "html")
    print(f"{len(report.checks)} results, median of {args.repeat} warm renders\n")
    print(f"{'format':<12}{'first ms':>10}{'warm ms':>10}{'bytes':>10}")
    for name, first, warm, size in rows:
        print(f"{name:<12}{first:>10.1f}{warm:>10.1f}{size:>10}")
    print(f"{'all':<12}{first_total:>10.1f}{warm_total:>10.1f}")
    within_time = warm_total < TOTAL_TARGET_MS
    within_size = html_size < HTML_TARGET_BYTES
    print(f"\nall formats < {TOTAL_TARGET_MS:.0f} ms (warm): {'yes' if within_time else 'NO'} ({warm_total:.1f} ms;"
          f" the first render in a fresh process, with imports and template compilation: {first_total:.1f} ms)")
    print(f"HTML < {HTML_TARGET_BYTES // 1000} KB: {'yes' if within_size else 'NO'} ({html_size / 1000:.1f} KB)")
    return 0 if within_time and within_size else 1


if __name__ == "__main__":
    sys.exit(main())
