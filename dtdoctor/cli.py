"""The command line: parse, build the run context, run, render, exit.

``DtDoctorGroup.main`` is the one top-level handler: every error becomes one
line on stderr and an exit code from the contract, never a traceback (except
with ``-v``). Everything printed passes through the redactor. Heavy modules
are imported inside the commands so ``dtdoctor --version`` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

import click

from dtdoctor import __version__

if TYPE_CHECKING:
    from dtdoctor.core.codes import Code

USAGE_ERROR = 3  # the contract's "unusable command line": Nagios UNKNOWN


class DtDoctorGroup(click.Group):
    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> NoReturn:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        from dtdoctor.redact import RedactingStream, Redactor

        redactor = Redactor()
        real_out, real_err = _usable_streams()
        sys.stdout = RedactingStream(real_out, redactor)
        sys.stderr = RedactingStream(real_err, redactor)
        code: int | None = None
        try:
            code = self._run(argv, prog_name or "dtdoctor", redactor)
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            # The reader went away (`dtdoctor explain | head`): send the rest to
            # /dev/null so the interpreter's final flush does not fail again. A
            # check's verdict was already decided (its output is written last);
            # for anything else, output the reader chose to cut is no error.
            from dtdoctor.render.output import silence

            silence(real_out)
        finally:
            sys.stdout, sys.stderr = real_out, real_err
        sys.exit(0 if code is None else code)

    def _run(self, argv: list[str], prog_name: str, redactor: Any) -> int:
        verbose = any(arg in ("-v", "--verbose") for arg in argv)
        if not argv:  # `dtdoctor` alone asks what it can do
            with self.make_context(prog_name, ["--help"], resilient_parsing=True) as ctx:
                sys.stdout.write(self.get_help(ctx) + "\n")
            return 0
        try:
            with self.make_context(prog_name, argv) as ctx:
                ctx.obj = redactor
                result = self.invoke(ctx)
            return int(result or 0)
        except click.exceptions.Exit as exc:
            return int(exc.exit_code)
        except BrokenPipeError:
            raise  # the reader left: main handles it, this is no error of the command
        except (click.ClickException, click.Abort, KeyboardInterrupt, Exception) as exc:  # never a traceback
            problem = _problem(exc, prog_name, verbose)
        fail(problem)
        from dtdoctor.render import nagios

        if nagios.asked_for(argv):  # a monitor reads stdout: the plugin guidelines want one line there
            sys.stdout.write(nagios.usage_error(problem))
        return USAGE_ERROR


def _usable_streams() -> tuple[Any, Any]:
    """stdout and stderr, made safe to write to; returns them (before any redaction wraps them)."""
    # A stream closed by the caller (`dtdoctor check >&-`) is None here: use /dev/null in its place,
    # so the run and its exit code survive it.
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # lives as long as the process
    for stream in (sys.stdout, sys.stderr):
        # A terminal in Latin-1 still gets the report, with '?' for what it cannot show.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    return sys.stdout, sys.stderr


def _problem(exc: BaseException, prog_name: str, verbose: bool) -> str:
    """The one line on stderr for a command that could not run."""
    from dtdoctor.config import ConfigError

    if isinstance(exc, click.UsageError):
        return f"{exc.format_message()}{_help_hint(exc, prog_name)}"
    if isinstance(exc, click.ClickException):
        return exc.format_message()
    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, (click.Abort, KeyboardInterrupt)):
        return "interrupted"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return _internal_error(exc, verbose)


def _help_hint(exc: click.UsageError, prog_name: str) -> str:
    return f" (see '{prog_name} {exc.ctx.command.name} --help')" if exc.ctx and exc.ctx.parent else ""


def _internal_error(exc: BaseException, verbose: bool) -> str:
    if not verbose:
        return f"internal error: {type(exc).__name__}: {exc} (run with -v for details)"
    import traceback

    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return f"internal error: {type(exc).__name__}: {exc}"


def fail(message: str) -> None:
    sys.stderr.write(f"dtdoctor: error: {message}\n")


def version_line() -> str:
    """``dtdoctor 1.0.0 (Python 3.11.7, /usr/bin/python3)``; run from the single file, also where it is unpacked.

    Support needs both facts from one line: which dtdoctor and which interpreter ran it.
    """
    line = f"dtdoctor {__version__} (Python {sys.version.split()[0]}, {sys.executable or 'interpreter unknown'}"
    boot = sys.modules.get("_dtdoctor_boot")  # set by the .pyz bootstrap (scripts/pyzboot)
    archive, unpacked = getattr(boot, "ARCHIVE", ""), getattr(boot, "UNPACKED", "")
    if archive:
        line += f"; single file {archive}, unpacked in {unpacked}"
    return line + ")"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_line())
        ctx.exit()


@click.group(cls=DtDoctorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version, help="Show the version and the Python running it, then exit.")
def cli() -> None:
    """Diagnose whether this host can send events to Dynatrace."""


def _duration_option(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from dtdoctor.duration import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _split(values: Sequence[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


# The options of the commands that run the checks, by name: ``check`` has them all, ``serve`` those that
# configure a run (its output is its pages).
_RUN_OPTIONS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "url": click.option("-u", "--url", metavar="URL", help="Environment URL (or DT_ENVIRONMENT_URL)."),
    "activegate": click.option("--activegate", "activegates", multiple=True, metavar="URL", help="Further ActiveGate to check; repeatable (or DT_ACTIVEGATE_URLS)."),
    "token_file": click.option("--token-file", metavar="PATH", help="File whose first line is the API token; - reads stdin (or DT_API_TOKEN)."),
    "scope": click.option("--scope", "scopes", multiple=True, metavar="SCOPE", help="Scope the token must have; repeatable (or DT_REQUIRED_SCOPES). Default events.ingest."),
    "eec_port": click.option("--eec-port", type=click.IntRange(1, 65535), metavar="PORT", help="OneAgent's local ingest port (or DT_EEC_PORT). Default: OneAgent's configuration, else 14499."),
    "ca_bundle": click.option("--ca-bundle", metavar="PATH", help="PEM file of extra trusted CAs, trusted in addition to the system store."),
    "proxy": click.option("--proxy", metavar="URL", help="HTTP(S) proxy for the remote checks (default: HTTPS_PROXY / NO_PROXY)."),
    "timeout": click.option("--timeout", type=float, metavar="SECONDS", help="Limit for each single probe (or DT_TIMEOUT). Default 5."),
    "only": click.option("--only", multiple=True, metavar="IDS", help="Comma-separated check ids or families to run."),
    "skip": click.option("--skip", multiple=True, metavar="IDS", help="Comma-separated check ids or families to leave out."),
    "format": click.option("-f", "--format", "output_format", default="console", metavar="FORMAT", help="What goes to stdout: console, json, html, junit, nagios, prometheus."),
    "output": click.option("-o", "--output", "outputs", multiple=True, metavar="PATH", help="Also write a report file; format from the suffix. Repeatable."),
    "bundle": click.option("--bundle", metavar="PATH.zip", help="Write a support bundle for a ticket."),
    "send_test_event": click.option("--send-test-event", is_flag=True, help="Really POST one test event through each configured ingest path."),
    "expiry_warn_days": click.option("--expiry-warn-days", type=click.IntRange(0, 3650), default=14, show_default=True, metavar="N", help="Certificates and tokens expiring within N days are a warning."),
    "warn_ok": click.option("--warn-ok", is_flag=True, help="Warnings exit 0 (for deployment probes)."),
    "no_color": click.option("--no-color", is_flag=True, help="No colours (also NO_COLOR)."),
    "quiet": click.option("-q", "--quiet", is_flag=True, help="Only problems."),
    "verbose": click.option("-v", "--verbose", is_flag=True, help="Every detail; tracebacks of crashed checks on stderr."),
    "root": click.option("--root", default="/", hidden=True, help="Filesystem root for local checks (testing)."),
}
CHECK_OPTIONS = tuple(_RUN_OPTIONS)
SERVE_OPTIONS = tuple(name for name in _RUN_OPTIONS if name not in ("format", "output", "bundle", "no_color", "quiet"))


def _run_options(names: Sequence[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(names):  # click lists options in the order they are applied, last first
            function = _RUN_OPTIONS[name](function)
        return function

    return apply


def _check_options(options: dict[str, Any]) -> Any:
    from dtdoctor.app import CheckOptions

    return CheckOptions(
        only=_split(options.pop("only")),
        skip=_split(options.pop("skip")),
        scopes=_split(options.pop("scopes")),
        **options,
    )


@cli.command()
@_run_options(CHECK_OPTIONS)
def check(**options: Any) -> int:
    """Run the checks and report; the exit code is the worst status (0-3)."""
    from dtdoctor.app import run_check

    redactor = click.get_current_context().find_root().obj
    return run_check(_check_options(options), redactor)


@cli.command()
@_run_options(SERVE_OPTIONS)
@click.option("--listen", default="127.0.0.1:9758", show_default=True, metavar="HOST:PORT", help="Address to serve on; the report pages only on a loopback address unless --expose-report.")
@click.option("--interval", default="300", show_default=True, callback=_duration_option, metavar="SECONDS", help="Run the checks at start and then every interval: seconds or a unit (300, 5m).")
@click.option("--expose-report", is_flag=True, help="Serve / and /report.json on a non-loopback address too (they show the configuration).")
def serve(listen: str, interval: float, expose_report: bool, **options: Any) -> int:
    """Run the checks at start and on an interval, and serve the latest run over HTTP.

    /metrics (Prometheus), /healthz (200 when the latest exit code is 0, or 1 with --warn-ok; 503 otherwise and
    before the first run ends), /report.json and / (HTML). SIGTERM or SIGINT ends it.
    """
    from dtdoctor.serve.command import ServeOptions, run_serve

    redactor = click.get_current_context().find_root().obj
    return run_serve(ServeOptions(_check_options(options), listen, interval, expose_report), redactor)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True), metavar="REPORT.json|DIR...")
@click.option("-o", "--output", "outputs", multiple=True, required=True, metavar="PATH", help="Fleet report to write: .html or .json (from the suffix). Repeatable.")
@click.option("--host-from", type=click.Choice(["report", "file", "parent"]), default="report", show_default=True, help="Name each host by the hostname in its report, the report's file name, or its folder's name.")
@click.option("--warn-ok", is_flag=True, help="Warnings exit 0.")
@click.option("--expect", metavar="FILE", help="Hosts that should report, one per line (optionally: unreachable or could_not_run, and a note); each missing one is an error.")
@click.option("--max-age", callback=_duration_option, metavar="DURATION", help="Reports older than this (90m, 24h, 7d) are stale, an error.")
def merge(paths: tuple[str, ...], outputs: tuple[str, ...], host_from: str, warn_ok: bool, expect: str | None,
          max_age: float | None) -> int:
    """Merge many hosts' JSON reports (files, or folders of *.json) into one fleet report.

    The newest report per host wins. The exit code is the worst status across the fleet (0-3); at least 1 when
    files were skipped, 3 when a report of a newer schema was refused, an expected host is missing or a report
    is stale.
    """
    from dtdoctor.fleet.command import run_merge

    redactor = click.get_current_context().find_root().obj
    return run_merge(paths, outputs, host_from, warn_ok, redactor, expect, max_age)


@cli.command()
@click.argument("code", required=False)
def explain(code: str | None) -> int:
    """What a result code means, why it happens, how to fix it (no CODE: list all)."""
    from dtdoctor.checks import registry_codes
    from dtdoctor.core.codes import closest, lookup

    table = registry_codes()
    if code is None:
        for name, entry in sorted(table.items()):
            statuses = "/".join(status.value for status in entry.statuses)
            click.echo(f"{name:32} {statuses:9}  {entry.meaning}")
        return 0
    found = lookup(code, table)
    if found is None:
        suggestions = closest(code, table)
        hint = f"; did you mean: {', '.join(suggestions)}" if suggestions else ""
        fail(f"unknown result code {code!r}{hint} (dtdoctor explain lists them all)")
        return USAGE_ERROR
    for line in explanation(found):
        click.echo(line)
    return 0


def explanation(found: Code) -> list[str]:
    """The lines of ``dtdoctor explain CODE``: statuses, meaning, causes, the wording and the fix."""
    lines = [f"{found.code}  ({'/'.join(status.value for status in found.statuses)})", ""]
    if found.when:
        lines.append(f"Status: {found.status.value}, except")
        lines += [f"  {status.value} {condition}" for status, condition in found.when.items()]
    lines.append(f"What it means: {found.meaning}")
    if found.causes:
        lines.append(f"Why it happens: {found.causes}")
    if found.summary:
        lines.append(f"Reported as: {found.general_summary}")
    if found.remediation:
        lines.append(f"How to fix it: {found.general_remediation}")
    if found.fields():
        lines.append(f"Evidence it names: {', '.join(found.fields())}")
    if "[<" in found.general_summary + found.general_remediation:
        lines.append("[<name>]: a clause the evidence adds where it applies, left out otherwise")
    return lines


def main() -> NoReturn:
    """The ``dtdoctor`` command and ``python -m dtdoctor``: run the command, then end the process at once."""
    try:
        cli.main(prog_name="dtdoctor")
    except SystemExit as done:
        end_process(done)


def end_process(done: SystemExit) -> NoReturn:
    """Exit with ``done``'s code without the interpreter's teardown, once nothing is left to write.

    The teardown frees every module and object one by one: 20 to 30 ms after a
    run of the checks, for a process that has nothing left to do. Report files
    and bundles are closed when written; stdout and stderr are flushed here,
    then the exit handlers run (the single file's removal of a temporary
    folder, say); the threads still running are daemons (probes abandoned at
    their deadline) that a normal exit would not wait for either. Anything
    else takes the normal exit: a code that is not a number, a stream that
    cannot be flushed, a thread a normal exit would wait for. In-process
    callers (tests) call ``DtDoctorGroup.main``, which raises ``SystemExit``.
    """
    if not isinstance(done.code, int) or _threads_to_wait_for():
        raise done
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        raise done from None  # as before: the interpreter reports what it could not write
    import atexit

    atexit._run_exitfuncs()
    os._exit(done.code)


def _threads_to_wait_for() -> bool:
    import threading

    return any(not thread.daemon and thread is not threading.main_thread() and thread.is_alive()
               for thread in threading.enumerate())
