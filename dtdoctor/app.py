"""``dtdoctor check`` without the command-line layer: configure, run, render, write.

Errors here raise (``ConfigError``, ``click.UsageError``); the CLI's one
handler turns them into a line on stderr and exit code 3.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TextIO

import click

from dtdoctor.config import Settings, load_settings, url_basic_credentials, url_password
from dtdoctor.core.model import Report, Status
from dtdoctor.redact import Redactor
from dtdoctor.render.output import MARKUP_FORMATS, report_path, write_stdout


@dataclass
class CheckOptions:
    url: str | None = None
    activegates: tuple[str, ...] = ()
    token_file: str | None = None
    scopes: list[str] = field(default_factory=list)
    eec_port: int | None = None
    ca_bundle: str | None = None
    proxy: str | None = None
    timeout: float | None = None
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    output_format: str = "console"
    outputs: tuple[str, ...] = ()
    bundle: str | None = None
    send_test_event: bool = False
    expiry_warn_days: int = 14
    warn_ok: bool = False
    no_color: bool = False
    quiet: bool = False
    verbose: bool = False
    root: str = "/"


def register_secrets(settings: Settings, redactor: Redactor, environ: Mapping[str, str] | None = None) -> None:
    """Everything secret in the configuration, known to the redactor before any output."""
    if settings.token is not None:
        # A malformed value: no telling which part is secret, so all of it is.
        redactor.add(settings.token.secret_text)
    # Passwords in URLs: proxies (--proxy or the environment) and Dynatrace URLs themselves.
    environ = environ or {}
    urls = [settings.proxy, *(environ.get(name) for name in _PROXY_VARIABLES)]
    urls += [parsed.text for parsed in (settings.url, *settings.activegates) if parsed is not None]
    urls += [environ.get("DT_ENVIRONMENT_URL"), *environ.get("DT_ACTIVEGATE_URLS", "").split(",")]
    for url in urls:
        for secret in url_secrets(url):
            redactor.add(secret)


_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY")


def url_secrets(url: str | None) -> list[str]:
    """A URL's password, and the Basic credentials made of it (a proxy may echo its Proxy-Authorization)."""
    return [secret for secret in (url_password(url), url_basic_credentials(url)) if secret]


# The format a ``-o DIR/`` entry stands for until the report exists to name its files.
DIRECTORY = "directory"


def output_targets(outputs: tuple[str, ...]) -> list[tuple[Path, str]]:
    """Each ``-o`` path with the format its suffix names.

    A path that ends in a slash or is an existing folder is a folder: it gets
    the formats in ``DIRECTORY_FORMATS``, named by ``report_files`` once the
    report exists. Checked before the run, so a typo costs no waiting.
    """
    from dtdoctor.render import SUFFIXES

    targets: list[tuple[Path, str]] = []
    for text in outputs:
        if not text.strip():
            raise click.UsageError("-o needs a file name or a folder (it was empty)")
        path = Path(text).expanduser()
        if text.endswith(("/", os.sep)) or path.is_dir():
            if not path.is_dir():
                raise click.UsageError(f"folder for report files {text!r} does not exist")
            targets.append((path, DIRECTORY))
            continue
        try:
            targets.append(report_path(text, SUFFIXES, "report file"))
        except ValueError as exc:
            raise click.UsageError(f"{exc}; or give a folder ending in /") from None
    return targets


def report_file_stem(report: Report) -> str:
    """``dtdoctor-<host>-<UTC time>``: sortable, unique per host and run, safe on every filesystem."""
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", str(report.host.get("hostname") or "host")).strip("._") or "host"
    moment = re.sub(r"[^0-9TZ]", "", report.generated_at) or "unknown-time"
    return f"dtdoctor-{host}-{moment}"


def report_files(targets: list[tuple[Path, str]], report: Report) -> list[tuple[Path, str]]:
    """The files to write: folders expanded into one named file per directory format."""
    from dtdoctor.render import DIRECTORY_FORMATS, FILE_SUFFIXES

    files: list[tuple[Path, str]] = []
    for path, fmt in targets:
        if fmt == DIRECTORY:
            stem = report_file_stem(report)
            files.extend((path / f"{stem}{FILE_SUFFIXES[name]}", name) for name in DIRECTORY_FORMATS)
        else:
            files.append((path, fmt))
    return files


def bundle_target(bundle: str | None) -> Path | None:
    if bundle is None:
        return None
    path = Path(bundle).expanduser()
    if path.suffix.lower() != ".zip":
        # A zip under another name is opened by the wrong program on the other end of the ticket.
        # ".zip" alone does end in .zip, but is a hidden file without a name: say what is missing.
        wanted = "a name before .zip (such as support.zip)" if path.name.lower() == ".zip" else "a name ending in .zip"
        raise click.UsageError(f"the support bundle is a zip file: give {wanted}, not {bundle!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not folder.is_dir():
        raise click.UsageError(f"cannot write the support bundle to {bundle!r}: give a file in an existing folder")
    return path


def supports_unicode(stream: object) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "✔⚠✖○‼→·".encode(codecs.lookup(encoding).name)
        return True
    except (LookupError, UnicodeEncodeError):
        return False


def use_color(opts: CheckOptions, environ: dict[str, str]) -> bool:
    if opts.no_color or "NO_COLOR" in environ or environ.get("TERM") == "dumb":
        return False
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def check_selection(opts: CheckOptions) -> None:
    """Refuse an unknown format, an unknown check id or an empty selection before anything runs."""
    from dtdoctor.checks import CHECKS
    from dtdoctor.core.runner import select_checks, unknown_selectors
    from dtdoctor.render import FORMATS

    if opts.output_format not in FORMATS:
        raise click.UsageError(f"unknown format {opts.output_format!r} (choose from {', '.join(FORMATS)})")
    unknown = unknown_selectors(CHECKS, opts.only + opts.skip)
    if unknown:
        known = ", ".join(check.id for check in CHECKS)
        raise click.UsageError(f"unknown check id {unknown[0]!r} (known: {known})")
    if not select_checks(CHECKS, opts.only, opts.skip):
        raise click.UsageError("--only and --skip leave no check to run")


def settings_for(opts: CheckOptions, environ: dict[str, str], redactor: Redactor) -> Settings:
    """The run's settings (the token file and CA bundle read now), their secrets known to ``redactor``."""
    settings = load_settings(
        url=opts.url,
        activegates=opts.activegates,
        token_file=opts.token_file,
        scopes=opts.scopes,
        eec_port=opts.eec_port,
        ca_bundle=opts.ca_bundle,
        proxy=opts.proxy,
        timeout=opts.timeout,
        expiry_warn_days=opts.expiry_warn_days,
        send_test_event=opts.send_test_event,
        environ=environ,
    )
    register_secrets(settings, redactor, environ)
    return settings


def run_checks(opts: CheckOptions, settings: Settings, environ: dict[str, str],
               progress_to: TextIO | None = None) -> Report:
    """Run the selected checks once and build the report; ``progress_to``: a terminal for the progress line."""
    from dtdoctor.checks import CHECKS
    from dtdoctor.core.context import RunContext
    from dtdoctor.core.report import build_report, utc_now
    from dtdoctor.core.runner import Runner, select_checks
    from dtdoctor.host.facts import collect

    root = Path(opts.root)
    ctx = RunContext(settings, environ, root)
    started_at = utc_now()
    runner = Runner(select_checks(CHECKS, opts.only, opts.skip), ctx)
    progress = None
    if progress_to is not None:
        from dtdoctor.render.progress import ProgressLine

        progress = runner.progress = ProgressLine(progress_to, len(runner.tasks))
    try:
        results = runner.run()
    finally:
        if progress is not None:
            progress.close()
    duration_ms = round((time.monotonic() - ctx.started) * 1000)
    report = build_report(results, settings, collect(root), started_at, duration_ms, opts.warn_ok)
    if opts.verbose:
        for result in report.checks:
            if result.status is Status.ERROR and result.traceback:
                sys.stderr.write(f"traceback of {result.id} {result.target}:\n{result.traceback}\n")
    return report


def run_check(opts: CheckOptions, redactor: Redactor) -> int:
    from dtdoctor.render import RenderOptions, render
    from dtdoctor.render.output import write_atomic

    check_selection(opts)
    files = output_targets(opts.outputs)
    bundle_target(opts.bundle)
    environ = dict(os.environ)
    settings = settings_for(opts, environ, redactor)
    on_terminal = getattr(sys.stderr, "isatty", lambda: False)()
    report = run_checks(opts, settings, environ, sys.stderr if on_terminal else None)
    options = RenderOptions(
        color=use_color(opts, environ),
        verbosity=1 if opts.verbose else -1 if opts.quiet else 0,
        unicode=supports_unicode(sys.stdout),
    )
    text = render(report, opts.output_format, options)
    # What a server echoed is redacted escaped in markup: a raw "<redacted>" would break the XML or HTML.
    write_stdout(redactor.scrub(text, markup=True) if opts.output_format in MARKUP_FORMATS else text)
    for path, fmt in report_files(files, report):
        write_atomic(path, render(report, fmt, RenderOptions()), redactor)
    write_bundle(report, opts, redactor, environ)
    return int(report.exit_code)


def write_bundle(report: Report, opts: CheckOptions, redactor: Redactor, environ: dict[str, str]) -> None:
    path = bundle_target(opts.bundle)
    if path is None:
        return
    from dtdoctor.render.bundle import write_bundle as write_support_bundle

    write_support_bundle(path, report, environ, redactor)
