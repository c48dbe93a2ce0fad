"""The support bundle (``--bundle x.zip``): everything a support engineer needs, no secret.

Members:
- ``report.html`` and ``report.json``: the report, as ``-o`` would write it;
- ``host.json``: the host facts;
- ``environment.json``: the names and redacted values of the variables that
  steer a run (``DT_*``, the proxy variables, ``SSL_CERT_*``,
  ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``);
- ``debug.log``: each result's timing, code and summary, and the traceback
  of every check that crashed.

Every member passes through the redactor, and the zip is written to a
temporary file and renamed, so no half-written bundle is left behind.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Mapping

from dtdoctor.config import display_url, parse_token
from dtdoctor.core.model import Report, parse_utc
from dtdoctor.redact import REDACTED, Redactor
from dtdoctor.render.output import MARKUP_SUFFIXES, write_atomic

TOKEN_VARIABLE = "DT_API_TOKEN"
_RELEVANT_NAMES = {"NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
_RELEVANT_PREFIXES = ("DT_", "SSL_CERT_")
_PROXY_NAME = re.compile(r"^[A-Za-z]+_PROXY$", re.IGNORECASE)
# Values of variables with these words in the name are secrets whatever they look like.
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|APIKEY|API_KEY|PRIVATE", re.IGNORECASE)


def is_relevant(name: str) -> bool:
    return name in _RELEVANT_NAMES or name.startswith(_RELEVANT_PREFIXES) or bool(_PROXY_NAME.match(name))


def environment_value(name: str, value: str) -> str:
    """A variable's value as the bundle shows it: tokens as their public id, proxies without credentials."""
    if name == TOKEN_VARIABLE:
        shown = parse_token(value).redacted
        return shown or f"<malformed token, {len(value.strip())} characters, redacted>"
    if _SECRET_NAME.search(name):
        return REDACTED
    if _PROXY_NAME.match(name) and name.lower() != "no_proxy":
        return display_url(value)
    return value


def relevant_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: environment_value(name, environ[name]) for name in sorted(environ) if is_relevant(name)}


def debug_log(report: Report) -> str:
    """The run as a log: when each probe started and ended, what it found, and any crash."""
    lines = [
        f"dtdoctor {report.tool_version} run started {report.generated_at}, took {report.duration_ms} ms",
        f"host: {json.dumps(dict(report.host), ensure_ascii=False, default=str)}",
        f"config: {json.dumps(dict(report.config), ensure_ascii=False, default=str)}",
        "",
        f"{'start':>7} {'end':>7} {'ms':>6}  {'status':6} {'code':28} check",
    ]
    for result in sorted(report.checks, key=lambda item: (item.started_ms, item.id, item.target)):
        end = result.started_ms + result.duration_ms
        lines.append(
            f"{result.started_ms:>7} {end:>7} {result.duration_ms:>6}  {result.status.value:6} {result.code:28} "
            f"{result.id} {result.target}: {result.summary}"
        )
    crashed = [result for result in report.checks if result.traceback]
    for result in crashed:
        lines += ["", f"traceback of {result.id} {result.target} ({result.code}):", result.traceback.rstrip()]
    lines += [
        "",
        f"status {report.status.value}, exit {int(report.exit_code)}: {report.exit_meaning}",
        f"counts: {json.dumps(report.counts)}",
    ]
    return "\n".join(lines) + "\n"


def bundle_members(report: Report, environ: Mapping[str, str]) -> dict[str, str]:
    from dtdoctor.render import render

    def as_json(data: Any) -> str:
        return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"

    return {
        "report.html": render(report, "html"),
        "report.json": render(report, "json"),
        "host.json": as_json(dict(report.host)),
        "environment.json": as_json(relevant_environment(environ)),
        "debug.log": debug_log(report),
    }


def build_bundle(report: Report, environ: Mapping[str, str], redactor: Redactor) -> bytes:
    """The zip's bytes; every member is scrubbed by the redactor."""
    buffer = io.BytesIO()
    # Members carry the run's time (UTC), so the bytes depend on the run, not on when it was zipped.
    started = parse_utc(report.generated_at)
    date_time = started.timetuple()[:6] if started and started.year >= 1980 else (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in bundle_members(report, environ).items():
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            markup = name.lower().endswith(MARKUP_SUFFIXES)
            archive.writestr(info, redactor.scrub(text, markup).encode("utf-8", "replace"))
    return buffer.getvalue()


def write_bundle(path: Path, report: Report, environ: Mapping[str, str], redactor: Redactor) -> None:
    write_atomic(path, build_bundle(report, environ, redactor))
