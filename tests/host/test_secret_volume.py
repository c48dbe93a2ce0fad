"""A token in a Kubernetes Secret volume (symlinked, 0440 for the pod's fsGroup) is not an insecure file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.factories import CANARY_TOKEN
from tests.support.reports import run_cli


def secret_volume(tmp_path: Path, mode: int) -> Path:
    """The kubelet's atomic-writer layout: token -> ..data/token, ..data -> ..<timestamp>/."""
    volume = tmp_path / "secret"
    stamped = volume / "..2026_11_30_04_00_00.123456789"
    stamped.mkdir(parents=True)
    (stamped / "token").write_text(CANARY_TOKEN + "\n", encoding="utf-8")
    (stamped / "token").chmod(mode)
    os.symlink(stamped.name, volume / "..data")
    os.symlink("..data/token", volume / "token")
    return volume / "token"


def token_result(path: Path) -> dict:
    run = run_cli(["check", "--only", "config.token", "-f", "json", "--token-file", str(path)])
    return json.loads(run.stdout)["checks"][0]


def test_group_readable_key_of_a_secret_volume_is_present(tmp_path: Path) -> None:
    found = token_result(secret_volume(tmp_path, 0o440))
    assert found["code"] == "token.present"
    assert found["details"]["file_mode"] == "0440" and found["details"]["kubernetes_secret_volume"] is True


@pytest.mark.parametrize("mode", [0o444, 0o460, 0o644])
def test_a_secret_volume_readable_by_others_or_writable_by_the_group_is_still_insecure(tmp_path: Path,
                                                                                       mode: int) -> None:
    assert token_result(secret_volume(tmp_path, mode))["code"] == "token.file_insecure"


def test_a_plain_group_readable_file_is_still_insecure(tmp_path: Path) -> None:
    plain = tmp_path / "token"
    plain.write_text(CANARY_TOKEN + "\n", encoding="utf-8")
    plain.chmod(0o440)
    assert token_result(plain)["code"] == "token.file_insecure"
    # A symlink alone (not into ..data) is no Secret volume either.
    os.symlink(plain, tmp_path / "link")
    assert token_result(tmp_path / "link")["code"] == "token.file_insecure"
