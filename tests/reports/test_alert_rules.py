"""The alert rules docs/reports.md recommends: valid for promtool, and a status change keeps the alert's timer.

Runs Prometheus's own rule checker and rule unit tests (``promtool``, Debian
package ``prometheus``) on the rules exactly as the documentation prints them;
the series fed to them are written the way dtdoctor writes them: a status
series per check and target whose labels never change, and the code in
``dtdoctor_check_info``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reports.md"
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: apt-get install prometheus)")

# The check fails at minute 5 with one code and changes code at minute 20 (tcp.timeout -> tcp.refused):
# one status series throughout, so the 30-minute alert fires at minute 35, naming the code of that moment.
UNIT_TEST = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'dtdoctor_check_status{instance="web-01",id="tcp",target="ag:9999"}'
        values: '0 0 0 0 0 2x40'
      - series: 'dtdoctor_check_info{instance="web-01",id="tcp",target="ag:9999",code="tcp.open"}'
        values: '1 1 1 1 1'
      - series: 'dtdoctor_check_info{instance="web-01",id="tcp",target="ag:9999",code="tcp.timeout"}'
        values: '_ _ _ _ _ 1x14'
      - series: 'dtdoctor_check_info{instance="web-01",id="tcp",target="ag:9999",code="tcp.refused"}'
        values: '_x19 1x30'
    alert_rule_test:
      - eval_time: 34m
        alertname: DtdoctorCheckFailing
        exp_alerts: []
      - eval_time: 36m
        alertname: DtdoctorCheckFailing
        exp_alerts:
          - exp_labels: {instance: web-01, id: tcp, target: "ag:9999"}
            exp_annotations:
              summary: "tcp ag:9999 on web-01: tcp.refused (dtdoctor explain CODE says why and what to do)"
"""


def documented_rules() -> str:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(groups:.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/reports.md should hold one rule file"
    return blocks[0]


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_the_documented_rules_are_valid(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(documented_rules(), encoding="utf-8")
    checked = promtool("check", "rules", "rules.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_code_change_does_not_restart_the_alert(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(documented_rules(), encoding="utf-8")
    (tmp_path / "test.yml").write_text(UNIT_TEST, encoding="utf-8")
    tested = promtool("test", "rules", "test.yml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
