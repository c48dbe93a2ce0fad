"""``oneagent``: is OneAgent installed here, running, and how is it configured?

Installation is found under the injectable root (Linux ``/opt/dynatrace/oneagent``,
Windows ``%PROGRAMFILES%\\dynatrace\\oneagent``, or a custom ``INSTALL_PATH``
named by the service definition). The version comes from
``agent/installer.version`` (readable without root; the file Dynatrace's own
bootstrapper reads), else ``oneagentctl --version``. Monitoring mode, host group,
network zone, proxy, no-proxy list and server come from ``oneagentctl``
(``--version``, ``--get-monitoring-mode``, ``--get-host-group``,
``--get-network-zone``, ``--get-proxy``, ``--get-no-proxy``, ``--get-server``;
docs "OneAgent configuration via command-line interface"; it needs
root/admin, and the result says so when it cannot run); running processes
from psutil. The exact output format of ``--get-no-proxy`` and
``--get-server`` is unconfirmed: entries are read as a list separated by
commas, semicolons or spaces, and servers as the http(s) URLs in the text.

OneAgent's proxy is compared with this shell's for the environment host the
way each would route it: OneAgent's proxy unless its no-proxy list names the
host; the shell's by HTTPS_PROXY/NO_PROXY. Where OneAgent sends elsewhere
(its server is an ActiveGate), the two paths differ by design and are not
compared. OneAgent's proxy may hold a password: only its host and port are
ever shown.

``oneagent.not_installed`` is a warning only when the user relies on the
local endpoint (``--eec-port``/``DT_EEC_PORT`` given, or no environment URL
configured); otherwise OneAgent is not needed to send events and the result
is ``skip``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from dtdoctor import host
from dtdoctor.checks import container
from dtdoctor.checks.base import LOCAL, Check, Finding, Probe, ProbeContext
from dtdoctor.config import Endpoint, display_url
from dtdoctor.core.codes import Code, codes
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Status
from dtdoctor.host.local_endpoint import (
    Installation,
    eec_port,
    installation,
    oneagentctl,
    oneagentctl_path,
    relies_on_local_endpoint,
)
from dtdoctor.host.processes import ProcessInfo, oneagent_processes
from dtdoctor.net.proxy import choose_proxy, no_proxy_match

ID = "oneagent"

CODES = codes(
    Code("oneagent.installed", Status.PASS, "OneAgent is installed and its processes run."),
    Code(
        "oneagent.not_installed",
        Status.WARN,
        "OneAgent is not installed on this host.",
        "OneAgent was never installed here, was installed to a path dtdoctor could not find, or this is a "
        "container (OneAgent monitors containers from the host).",
        "To send events through OneAgent's local endpoint, install OneAgent in Full-Stack or Infrastructure "
        "Monitoring mode; otherwise send them to the environment or an ActiveGate with an API token.",
        when={
            Status.SKIP: "when OneAgent is not needed here: an environment URL is configured (and no --eec-port), "
            "or this is a container (OneAgent runs on the host)",
        },
    ),
    Code(
        "oneagent.not_running",
        Status.WARN,
        "OneAgent is installed, but none of its processes run.",
        "The oneagent service is stopped or failed to start.",
        "Start it: `systemctl start oneagent` (Linux) or start the \"Dynatrace OneAgent\" service (Windows); "
        "then look at /var/log/dynatrace/oneagent for why it stopped.",
    ),
    Code(
        "oneagent.proxy_mismatch",
        Status.WARN,
        "OneAgent and this shell reach Dynatrace through different proxies.",
        "OneAgent has its own proxy setting (`oneagentctl --set-proxy`), separate from HTTPS_PROXY/NO_PROXY; "
        "when they differ, a path that works for one can fail for the other.",
        "Compare `oneagentctl --get-proxy` with HTTPS_PROXY/NO_PROXY and align them, or make sure both "
        "proxies are meant to be used.",
    ),
)

_QUESTIONS = {
    "version": "--version",
    "monitoring_mode": "--get-monitoring-mode",
    "host_group": "--get-host-group",
    "network_zone": "--get-network-zone",
    "proxy": "--get-proxy",
    "no_proxy": "--get-no-proxy",
    "server": "--get-server",
}
# Answers shown as they are; the proxy (it may hold a password), the no-proxy list and the servers are parsed.
_SHOWN = ("version", "monitoring_mode", "host_group", "network_zone")


def ask_oneagentctl(ctx: RunContext) -> tuple[dict[str, str | None], dict[str, str]]:
    """Every question to ``oneagentctl`` at once; (answers, why-not per question)."""
    from concurrent.futures import ThreadPoolExecutor  # only where OneAgent is installed: 7 ms to import

    answers: dict[str, str | None] = {}
    problems: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=len(_QUESTIONS)) as pool:
        futures = {key: pool.submit(oneagentctl, ctx, argument) for key, argument in _QUESTIONS.items()}
        for key, future in futures.items():
            output, why = future.result()
            if output is None:
                problems[key] = why
            else:
                answers[key] = output.strip() or None
    return answers, problems


def installed_version(install_path: Path | None) -> str | None:
    """The version in ``<install>/agent/installer.version`` (e.g. ``1.321.51.20250905-075429``)."""
    if install_path is None:
        return None
    try:
        text = (install_path / "agent" / "installer.version").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line[:64] or None


def _proxy_key(url: str | None) -> str | None:
    """``host:port`` of a proxy URL (credentials and scheme dropped), for comparison."""
    if not url:
        return None
    text = url if "://" in url else "http://" + url
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # unparseable: compare it as written, but never with its credentials
        return display_url(url).strip().lower()
    return f"{(parts.hostname or '').lower()}:{port or (443 if parts.scheme == 'https' else 80)}"


def split_entries(text: str | None) -> list[str]:
    """A list oneagentctl printed: separated by commas, semicolons or white space, maybe in braces."""
    return [entry for entry in re.split(r"[,;\s]+", (text or "").strip().strip("{}[]")) if entry]


def server_urls(text: str | None) -> list[str]:
    """The http(s) URLs in ``--get-server``'s answer, without any credentials."""
    return [display_url(url) for url in re.findall(r"https?://[^\s,;{}\[\]\"']+", text or "")][:10]


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def compare_proxies(ctx: RunContext, answers: dict[str, str | None]) -> tuple[bool, dict[str, object]]:
    """Does OneAgent route the environment host through another proxy than this shell would?"""
    oneagent_proxy, no_proxy = answers.get("proxy"), ",".join(split_entries(answers.get("no_proxy")))
    details: dict[str, object] = {
        "oneagent_proxy": _display(oneagent_proxy),
        "oneagent_no_proxy": split_entries(no_proxy),
    }
    environment = ctx.settings.environment
    elsewhere = _sends_elsewhere(environment, server_urls(answers.get("server")))
    if environment is None or elsewhere:
        details["shell_proxy"] = elsewhere or "not compared (no environment URL)"
        return False, details
    bypass = no_proxy_match(environment.host, environment.port, no_proxy) if oneagent_proxy and no_proxy else None
    choice = choose_proxy(environment.scheme, environment.host, environment.port, ctx.settings.proxy, ctx.environ)
    details.update({
        "oneagent_route": f"direct (its no-proxy list: {bypass})" if bypass else _display(oneagent_proxy),
        "shell_proxy": choice.display,
        "shell_proxy_source": choice.source or choice.bypass or None,
    })
    return _proxy_key(choice.url) != (None if bypass else _proxy_key(oneagent_proxy)), details


def _sends_elsewhere(environment: Endpoint | None, servers: list[str]) -> str | None:
    """Why the routes are not compared: OneAgent's servers do not include the environment host."""
    if environment is None or not servers or environment.host.lower() in {_host_of(url) for url in servers}:
        return None
    return "not compared: OneAgent sends to " + ", ".join(servers)


def _display(proxy: str | None) -> str:
    if not proxy:
        return "direct"
    key = _proxy_key(proxy)
    return key or proxy


def probe(probe_ctx: ProbeContext) -> Finding:
    ctx = probe_ctx.run
    if host.platform_name() == "darwin":
        return Finding(
            "check.unsupported",
            "skipped: OneAgent does not run on macOS",
            {"platform": host.platform_name()},
        )
    install = installation(ctx)
    details: dict[str, object] = {"installation": install.to_json()}
    processes, process_note = oneagent_processes(ctx.root)
    details["processes"] = [process.to_json() for process in processes]
    if process_note:
        details["processes_note"] = process_note
    if not install.installed:
        return not_installed(probe_ctx, install, details, bool(processes))
    answers = configuration(ctx, install.path, details)
    described = describe(install.path, answers, details)
    if not processes and not process_note:
        return Finding("oneagent.not_running", f"{described}, but none of its processes run", details)
    return proxy_verdict(ctx, answers, "; ".join([described, *_clauses(processes, answers)]), details)


def _clauses(processes: list[ProcessInfo], answers: dict[str, str | None]) -> list[str]:
    """What runs, and what the monitoring mode rules out, for the summary of an installed OneAgent."""
    running = sorted({process.name or "?" for process in processes})
    clauses = [f"running: {', '.join(running)}"] if running else []
    if answers.get("monitoring_mode") == "discovery":
        clauses.append("Discovery mode has no local ingest endpoint (Full-Stack or Infrastructure needed)")
    return clauses


def proxy_verdict(ctx: RunContext, answers: dict[str, str | None], described: str,
                  details: dict[str, object]) -> Finding:
    """``oneagent.proxy_mismatch`` when the routes differ, else ``oneagent.installed``."""
    if "proxy" not in answers:
        return Finding("oneagent.installed", described, details)
    differs, proxy_details = compare_proxies(ctx, answers)
    details["proxy"] = proxy_details
    if not differs:
        return Finding("oneagent.installed", described, details)
    return Finding(
        "oneagent.proxy_mismatch",
        f"{described}; OneAgent's route to the environment is {proxy_details['oneagent_route']} but this "
        f"shell would use {proxy_details['shell_proxy']}",
        details,
    )


def not_installed(probe_ctx: ProbeContext, install: Installation, details: dict[str, object],
                  running: bool) -> Finding:
    if running:  # e.g. the host's OneAgent seen from a container that shares its PID namespace
        details["note"] = "OneAgent processes run, but no installation was found under the filesystem root"
    found = container.detection(probe_ctx)
    where, unsure = "", ""
    if found is not None and found.is_container:
        details["container"] = found.runtime
        if found.weak_only:  # /.dockerenv alone: judged as a host, saying so
            details["container_evidence"] = container.weak_evidence(found)
            unsure = f"; {container.cannot_tell(found)}"
        else:
            where = f"; this is a {found.runtime} container: OneAgent runs on the host, not inside containers"
    looked = ", ".join(install.looked_at[:2])
    summary = f"OneAgent is not installed here (looked at {looked}){where}{unsure}"
    if relies_on_local_endpoint(probe_ctx.run) and not where:
        return Finding("oneagent.not_installed", summary, details, Status.WARN)
    if where:  # expected in a container; the eec check carries the consequence and the advice
        return Finding("oneagent.not_installed", summary, details, Status.SKIP, "")
    return Finding(
        "oneagent.not_installed",
        summary + "; not needed: events go to the configured environment",
        details,
        Status.SKIP,
        "",
    )


def configuration(ctx: RunContext, install_path: Path | None, details: dict[str, object]) -> dict[str, str | None]:
    """oneagentctl's answers (the installer.version file wins for the version); what could not be read says why."""
    tool = oneagentctl_path(ctx)
    details["oneagentctl"] = str(tool) if tool else None
    details["extensions_ingest_port"] = eec_port(ctx).to_json()
    answers, problems = ask_oneagentctl(ctx)
    details.update({key: value for key, value in answers.items() if key in _SHOWN})
    if "server" in answers:
        details["server"] = server_urls(answers["server"])
    file_version = installed_version(install_path)
    if file_version:
        # The file needs no root, unlike oneagentctl; it is what the installer and the Operator read.
        details["version"] = file_version
        details["version_source"] = "agent/installer.version"
        answers["version"] = file_version
        problems.pop("version", None)
    elif answers.get("version"):
        details["version_source"] = "oneagentctl --version"
    if problems:
        details["oneagentctl_problems"] = sorted(set(problems.values()))
        details["oneagentctl_unanswered"] = sorted(problems)
    return answers


def describe(install_path: Path | None, answers: dict[str, str | None], details: dict[str, object]) -> str:
    labels = (("version", "version"), ("monitoring_mode", "mode"), ("host_group", "host group"),
              ("network_zone", "network zone"))
    facts = [f"{label} {answers[key]}" for key, label in labels if answers.get(key)]
    servers = details.get("server")
    if isinstance(servers, list) and servers:
        facts.append("sends to " + ", ".join(servers))
    problems = details.get("oneagentctl_problems")
    if isinstance(problems, list) and problems and not any(answers.get(key) for key in _SHOWN):
        facts.append("configuration not readable: " + str(problems[0]))
    return f"OneAgent installed at {install_path}" + (f" ({', '.join(facts)})" if facts else "")


def plan(ctx: RunContext) -> list[Probe]:
    # oneagentctl's questions run concurrently (one timeout); reading the ingest port may need another.
    return [Probe(LOCAL, probe, budget=3, after=(container.KEY,))]


CHECK = Check(id=ID, title="OneAgent installation", codes=CODES, plan=plan)
