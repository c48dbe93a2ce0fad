"""``dtdoctor merge``: many hosts' JSON reports in, one fleet view out.

The merge streams: each report file is parsed, boiled down to a compact
``HostSummary`` (worst status, worst status per check family, the problem
results with the few detail values the fleet view compares) and the parsed
document is dropped before the next file is read. Memory therefore grows with
the number of hosts and their problems, not with the size of the raw reports
(a report full of evidence costs the same as a terse one). A large merge
parses in worker processes that hand back only those summaries, in order.

Which reports count:
- the newest report per host wins (by ``generated_at``); older ones are
  counted as superseded;
- unreadable files and files that are not dtdoctor host reports are skipped
  with a warning, and the merge exits at least 1;
- reports of a newer schema (``dtdoctor.report/v2`` and later) are refused:
  this version cannot judge them, so they are left out, named on stderr and in
  the fleet report, and the merge exits 3 (the fleet verdict is incomplete).

The pipeline, one module per step: ``reading`` finds and parses the files,
``summary`` boils each report down, ``merge`` folds the summaries into a
``Fleet``, ``command`` writes the fleet files; ``dtdoctor.render.fleet_html``
draws the page.
"""

from dtdoctor.fleet.merge import CodeSummary, Fleet, FleetMerger, SharedFact, merge_paths
from dtdoctor.fleet.reading import SkippedFile, iter_report_files, read_and_summarize, read_report
from dtdoctor.fleet.summary import FLEET_SCHEMA, HostSummary, ProblemSummary, summarize

__all__ = [
    "FLEET_SCHEMA",
    "CodeSummary",
    "Fleet",
    "FleetMerger",
    "HostSummary",
    "ProblemSummary",
    "SharedFact",
    "SkippedFile",
    "iter_report_files",
    "merge_paths",
    "read_and_summarize",
    "read_report",
    "summarize",
]
