"""Bad input and hostile environments: one clear line, the right exit code, no leak."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dtdoctor.app import CheckOptions, use_color
from dtdoctor.config import display_url, is_loopback_host, url_password
from dtdoctor.redact import Redactor
from tests.support.cli import invoke
from tests.support.factories import CANARY_SECRET, CANARY_TOKEN, settings

PASSWORD = "S3cretPassw0rdXYZ"


@pytest.mark.parametrize(
    "url",
    [
        f"http://user:{PASSWORD}@proxy.example.com:3128",
        f"http://user:{PASSWORD}@[2001:db8::1:3128",  # unparseable: unclosed bracket
        f"user:{PASSWORD}@proxy.example.com:3128",  # no scheme
        f"http://user:{PASSWORD}@proxy.example.com:99999",  # bad port
    ],
)
def test_proxy_credentials_are_found_and_hidden_in_any_url(url):
    assert url_password(url) == PASSWORD
    assert PASSWORD not in display_url(url) and "<credentials>@" in display_url(url)


def test_a_proxy_password_never_reaches_a_report(tmp_path):
    out = tmp_path / "r.json"
    for proxy_args, env in (
        (["--proxy", f"user:{PASSWORD}@proxy.example.com:3128"], {}),
        ([], {"HTTPS_PROXY": f"http://user:{PASSWORD}@[2001:db8::1:3128"}),
    ):
        run = invoke("check", "--only", "config,proxy", "-u", "https://abc12345.live.dynatrace.com",
                     "-o", str(out), "-f", "json", *proxy_args, env=env)
        for text in (run.stdout, run.stderr, out.read_text()):
            assert PASSWORD not in text and PASSWORD[:12] not in text
        config = json.loads(run.stdout)["config"]
        # A proxy from HTTPS_PROXY is named too (the run used it), without its credentials.
        assert config["proxy"] == ("http://<credentials>@proxy.example.com:3128" if proxy_args
                                   else "http://<credentials>@[2001:db8::1:3128")
        assert config["proxy_source"] == ("--proxy" if proxy_args else "HTTPS_PROXY")


def test_a_scheme_less_proxy_option_is_http():
    assert settings(proxy="proxy.example.com:3128").proxy == "http://proxy.example.com:3128"


def test_only_real_loopback_counts_for_plain_http():
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.5") and is_loopback_host("::1")
    assert not is_loopback_host("evil.localhost") and not is_loopback_host("localhost.example.com")
    plain = settings(url="http://evil.localhost:8080/e/abc")
    assert plain.environment and not plain.token_may_go_to(plain.environment)


def test_an_oversized_token_file_is_one_line_and_exit_3(tmp_path):
    huge = tmp_path / "token"
    huge.write_text("A" * 1_000_000)
    run = invoke("check", "--only", "config", "--token-file", str(huge))
    assert run.exit_code == 3 and "not an API token" in run.stderr and len(run.stderr.splitlines()) == 1


def test_a_ca_bundle_that_is_not_pem_is_a_usage_error(tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("this is not a certificate\n")
    run = invoke("check", "--ca-bundle", str(bogus))
    assert run.exit_code == 3 and "holds no certificate OpenSSL can load" in run.stderr


def test_a_ca_bundle_given_as_a_pipe_is_a_usage_error_not_a_crash_of_every_tls_check():
    """``--ca-bundle <(kubectl get secret ...)``: a pipe is read once, by the check of the option, and
    every TLS check after it found it empty; a FIFO with no writer blocked that check for ever."""
    import certifi

    pem = open(certifi.where(), "rb").read()[:20000]
    read_end, write_end = os.pipe()
    os.write(write_end, pem)
    os.close(write_end)
    try:
        run = invoke("check", "--only", "config", "--ca-bundle", f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    assert run.exit_code == 3 and "not a regular file" in run.stderr and len(run.stderr.splitlines()) == 1


def test_a_ca_bundle_that_is_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    from dtdoctor.config import ConfigError, check_ca_bundle

    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        check_ca_bundle(fifo)


def test_the_redaction_pattern_is_built_once_per_set_of_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long secret has thousands of fragments: building their pattern per line would make every report slow.
    (How fast scrubbing is, is measured by bench/, not here.)"""
    import re

    from dtdoctor import redact

    compile_ = re.compile
    built: list[str] = []

    def counted(pattern: str, flags: int = 0) -> re.Pattern[str]:
        if "xxxx" in str(pattern):  # the secrets' pattern, not another module's
            built.append(pattern)
        return compile_(pattern, flags)

    monkeypatch.setattr(redact.re, "compile", counted)
    redactor = Redactor([CANARY_SECRET, "x" * 4096])
    for _ in range(200):
        assert redactor.scrub(f"a line of ordinary report text {CANARY_SECRET}") == \
            f"a line of ordinary report text {redact.REDACTED}"
    assert len(built) == 1
    redactor.add("another-secret-value")
    assert "another-secret-value" not in redactor.scrub("token another-secret-value")
    assert redactor.scrub("text") == "text" and len(built) == 2  # rebuilt once after the add


def test_a_closed_pipe_ends_quietly():
    process = subprocess.Popen(
        [sys.executable, "-m", "dtdoctor", "check", "-f", "html", "-v"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"DT_API_TOKEN": CANARY_TOKEN, "PATH": ""},
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the report is written, like `| head -c 0`
    _, err = process.communicate(timeout=60)
    assert process.returncode in (0, 1, 2, 3)
    assert b"Traceback" not in err and b"Exception ignored" not in err


def test_a_latin1_terminal_still_gets_the_report():
    # The summary quotes the URL, with a character Latin-1 cannot show.
    completed = subprocess.run(
        [sys.executable, "-m", "dtdoctor", "check", "--only", "config", "-u", "https://ex\u2192ample.com"],
        capture_output=True, env={"PYTHONIOENCODING": "latin-1", "PATH": ""}, timeout=60,
    )
    assert completed.returncode == 3, completed.stderr  # url.invalid, reported
    assert b"config.url" in completed.stdout and b"ex?ample" in completed.stdout
    assert b"Traceback" not in completed.stderr


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Terminal())
    assert use_color(CheckOptions(), {}) is True
    assert use_color(CheckOptions(), {"NO_COLOR": ""}) is False
    assert use_color(CheckOptions(no_color=True), {}) is False
    assert use_color(CheckOptions(), {"TERM": "dumb"}) is False
    monkeypatch.setattr(sys, "stdout", object())
    assert use_color(CheckOptions(), {}) is False


def test_undecodable_bytes_in_the_environment_are_reported_not_crashed_on(tmp_path):
    """Environment values are bytes; ones that are not UTF-8 reach Python as lone surrogates."""
    bad = os.fsdecode(b"\xff\xfe")
    env = {
        "PATH": "",
        "DT_API_TOKEN": "dt0c01." + bad,
        "HTTPS_PROXY": f"http://user:pa{bad}ss@127.0.0.1:9",
        "DT_ENVIRONMENT_URL": f"https://abc12345.live.dynatrace.com/e/{bad}",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "dtdoctor", "check", "--only", "config,proxy", "--timeout", "0.5",
         "--bundle", str(tmp_path / "b.zip"), "-o", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.html"),
         "-o", str(tmp_path / "r.xml")],
        capture_output=True, env=env, timeout=60,
    )
    assert b"internal error" not in completed.stderr and b"Traceback" not in completed.stderr, completed.stderr
    assert completed.returncode == 2  # the malformed token fails
    assert all((tmp_path / name).exists() for name in ("b.zip", "r.json", "r.html", "r.xml"))


@pytest.mark.parametrize(("arguments", "redirect", "expected"), [
    ("check --timeout x", "2>&-", 3),  # a usage error, with nowhere to say it, still exits 3
    ("check --only config.token", ">&-", 2),  # the malformed token's verdict survives a closed stdout
    ("check --only config.token --token-file -", "<&-", 2),  # a closed stdin reads as an empty token
    ("explain", "| head -1 >/dev/null", 0),  # the reader leaving is no error of explain
    ("check --only config.token -v", "| head -1 >/dev/null", 2),  # nor does it hide a check's verdict
])
def test_closed_and_cut_streams_keep_the_exit_code(arguments, redirect, expected):
    # bash: PIPESTATUS gives dtdoctor's own exit code, not head's.
    script = f'"$PYTHON" -m dtdoctor {arguments} {redirect}; exit ${{PIPESTATUS[0]}}'
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHON": sys.executable, "DT_API_TOKEN": "not-a-token-at-all"}
    completed = subprocess.run(["bash", "-c", script], capture_output=True, timeout=60, env=environment)
    assert completed.returncode == expected, completed.stderr
    assert b"internal error" not in completed.stderr and b"Traceback" not in completed.stderr


def test_a_selection_that_leaves_no_check_is_a_usage_error():
    from tests.support.cli import invoke as invoke_cli

    result = invoke_cli("check", "--only", "dns", "--skip", "dns")
    assert result.exit_code == 3
    assert "--only and --skip leave no check to run" in result.stderr


def test_a_run_where_every_check_was_skipped_does_not_claim_that_everything_works():
    from tests.support.cli import invoke as invoke_cli

    result = invoke_cli("check", "--only", "dns,tcp", env={"DT_ENVIRONMENT_URL": "", "DT_API_TOKEN": ""})
    assert result.exit_code == 0  # the contract: no warn, fail or error
    assert "nothing was checked: every check was skipped" in result.stdout
    assert "everything needed to send events works" not in result.stdout


def test_dtdoctor_alone_prints_its_help():
    from tests.support.cli import invoke as invoke_cli

    result = invoke_cli()
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ") and "Diagnose whether this host" in result.stdout
    assert "check" in result.stdout
    assert "error" not in result.stderr


def test_an_empty_output_path_is_a_usage_error(tmp_path, monkeypatch):
    from tests.support.cli import invoke as invoke_cli

    monkeypatch.chdir(tmp_path)
    result = invoke_cli("check", "-o", "", "--only", "config.url")
    assert result.exit_code == 3 and "-o needs a file name or a folder" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_port_zero_is_an_invalid_url():
    from dtdoctor.config import parse_url

    parsed = parse_url("https://localhost:0/e/abc")
    assert parsed.endpoint is None and parsed.error == "port 0 is not a port a server can listen on"


def test_a_ca_bundle_that_is_a_folder_or_unreadable_says_which(tmp_path):
    from dtdoctor.config import ConfigError, check_ca_bundle

    with pytest.raises(ConfigError, match="is a folder: give the PEM file inside it"):
        check_ca_bundle(tmp_path)
    locked = tmp_path / "ca.pem"
    locked.write_text("x")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything: nothing to prove here
        return
    with pytest.raises(ConfigError, match="cannot be read"):
        check_ca_bundle(locked)
