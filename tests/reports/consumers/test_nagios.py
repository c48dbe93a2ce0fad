"""Nagios 4 runs dtdoctor as its check command; the test reads back what Nagios recorded.

A private Nagios (its own configuration, status and command files in a
temporary folder; nothing of the system's) checks four services, one per
scenario: pass, warn, fail and a command line dtdoctor refuses. Nagios's
``status.dat`` then holds the state, output and perfdata it took from dtdoctor,
after its own processing (it turns ';' into ':', splits perfdata off at '|').
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.reports.consumers.conftest import Outputs, need_program
from tests.support.real_runs import EXPECTED_EXIT, check_args, command, run_args

SERVICES = ("pass", "warn", "fail", "usage")
STATE_WORDS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}

MAIN_CONFIG = """\
cfg_file={folder}/objects.cfg
log_file={folder}/nagios.log
object_cache_file={folder}/objects.cache
precached_object_file={folder}/objects.precache
status_file={folder}/status.dat
status_update_interval=1
lock_file={folder}/nagios.lock
temp_file={folder}/nagios.tmp
temp_path={folder}
check_result_path={folder}/checkresults
command_file={folder}/nagios.cmd
check_external_commands=1
retain_state_information=0
state_retention_file={folder}/retention.dat
use_syslog=0
enable_notifications=0
enable_flap_detection=0
execute_service_checks=1
interval_length=1
max_service_check_spread=1
service_inter_check_delay_method=n
host_inter_check_delay_method=n
check_for_updates=0
nagios_user={user}
nagios_group={group}
"""

OBJECTS_HEAD = """\
define timeperiod {
  timeperiod_name always
  alias always
  sunday 00:00-24:00
  monday 00:00-24:00
  tuesday 00:00-24:00
  wednesday 00:00-24:00
  thursday 00:00-24:00
  friday 00:00-24:00
  saturday 00:00-24:00
}
define contact {
  contact_name nobody
  host_notifications_enabled 0
  service_notifications_enabled 0
  host_notification_period always
  service_notification_period always
  host_notification_options n
  service_notification_options n
  host_notification_commands notify_nothing
  service_notification_commands notify_nothing
}
define command {
  command_name notify_nothing
  command_line /bin/true
}
define host {
  host_name lab
  address 127.0.0.1
  max_check_attempts 1
  check_period always
  contacts nobody
  notification_period always
}
"""

SERVICE = """\
define command {{
  command_name dtdoctor_{name}
  command_line {command_line}
}}
define service {{
  host_name lab
  service_description dtdoctor-{name}
  check_command dtdoctor_{name}
  max_check_attempts 1
  check_interval 3600
  retry_interval 3600
  check_period always
  contacts nobody
  notification_period always
}}
"""


def command_line(outputs: Outputs, scenario: str) -> str:
    """What Nagios runs: dtdoctor in a clean environment, as an administrator would configure it."""
    root = Path(__file__).resolve().parents[3]
    args = command(*check_args(outputs.lab, scenario, "-f", "nagios"))
    environment = ["/usr/bin/env", "-i", f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}", f"PYTHONPATH={root}",
                   f"HOME={outputs.folder}"]
    return shlex.join(environment + args)


def parse_status(text: str) -> dict[str, dict[str, str]]:
    """servicestatus blocks of status.dat by service description."""
    services: dict[str, dict[str, str]] = {}
    block: dict[str, str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "servicestatus {":
            block = {}
        elif stripped == "}" and block is not None:
            services[block.get("service_description", "")] = block
            block = None
        elif block is not None and "=" in stripped:
            key, _, value = stripped.partition("=")
            block[key] = value
    return services


def force_checks(command_file: Path) -> None:
    now = int(time.time())
    lines = "".join(f"[{now}] SCHEDULE_FORCED_SVC_CHECK;lab;dtdoctor-{name};{now}\n" for name in SERVICES)
    with open(command_file, "w", encoding="ascii") as pipe:  # Nagios's named pipe
        pipe.write(lines)


def wait_for_results(folder: Path, process: subprocess.Popen[bytes], timeout: float = 90) -> dict[str, dict[str, str]]:
    deadline = time.monotonic() + timeout
    forced = False
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nagios4 stopped: {(folder / 'nagios.log').read_text(errors='replace')[-2000:]}")
        if not forced and (folder / "nagios.cmd").exists():
            force_checks(folder / "nagios.cmd")
            forced = True
        status = folder / "status.dat"
        if status.exists():
            services = parse_status(status.read_text(errors="replace"))
            done = [name for name in SERVICES if services.get(f"dtdoctor-{name}", {}).get("has_been_checked") == "1"]
            if len(done) == len(SERVICES):
                return services
        time.sleep(0.3)
    raise AssertionError(f"Nagios did not check every service: {(folder / 'nagios.log').read_text(errors='replace')}")


@pytest.fixture(scope="module")
def recorded(outputs: Outputs, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    nagios = need_program("nagios4", "nagios", what="Nagios 4 (Debian package nagios4-core)")
    folder = Path(tmp_path_factory.mktemp("nagios"))
    (folder / "checkresults").mkdir()
    entry = pwd.getpwuid(os.getuid())
    user, group = entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name
    (folder / "nagios.cfg").write_text(MAIN_CONFIG.format(folder=folder, user=user, group=group))
    services = "".join(SERVICE.format(name=name, command_line=command_line(outputs, name)) for name in SERVICES)
    (folder / "objects.cfg").write_text(OBJECTS_HEAD + services)
    verify = subprocess.run([nagios, "-v", str(folder / "nagios.cfg")], capture_output=True, text=True, timeout=60,
                            check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    process = subprocess.Popen([nagios, str(folder / "nagios.cfg")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        return wait_for_results(folder, process)
    finally:
        process.terminate()
        process.wait(20)


@pytest.mark.parametrize("name", SERVICES)
def test_nagios_records_the_state_dtdoctor_meant(recorded, name):
    service = recorded[f"dtdoctor-{name}"]
    expected = EXPECTED_EXIT[name]
    assert service["current_state"] == str(expected), service
    assert service["plugin_output"].startswith(f"DTDOCTOR {STATE_WORDS[expected]} - "), service


def test_the_text_reaches_nagios_as_dtdoctor_wrote_it(recorded, outputs):
    # Nagios rewrites some characters (';' becomes ':'): what it recorded must be what dtdoctor printed.
    for name in ("pass", "warn", "fail"):
        printed = run_args(check_args(outputs.lab, name, "-f", "nagios")).stdout.splitlines()
        service = recorded[f"dtdoctor-{name}"]
        assert service["plugin_output"] == printed[0].partition(" | ")[0], name
        assert service["long_plugin_output"].replace("\\n", "\n") == "\n".join(printed[1:]), name
    assert "events.ingest" in recorded["dtdoctor-fail"]["plugin_output"]
    assert recorded["dtdoctor-fail"]["long_plugin_output"].startswith("FAIL token")


def test_perfdata_reaches_nagios(recorded):
    warn = recorded["dtdoctor-warn"]["performance_data"]
    assert "'warn'=1;;;0;" in warn
    assert "_token_days'=" in warn and ";14:;0:" in warn
    assert recorded["dtdoctor-usage"]["performance_data"] == ""


def test_a_usage_error_says_why_in_nagios(recorded):
    assert "--timeout" in recorded["dtdoctor-usage"]["plugin_output"]

