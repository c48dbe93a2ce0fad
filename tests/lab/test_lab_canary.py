"""No secret in any output of a lab run: the token and the proxy password, in every form they travel in.

The run goes through a basic-auth squid with the password in the proxy URL
(percent-encoded there, Basic-encoded on the wire), on its http_port and on an
https_port (the CONNECT and its credentials inside TLS to the proxy), and a
token in the environment, to endpoints that pass, fail and are refused, and writes every
report format and a bundle.
"""

from __future__ import annotations

import base64
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.lab.services import HOSTS, PROXY_PASSWORD, PROXY_USER, TLS_PROXY_AUTH_PORT, name
from tests.support.factories import CANARY_SECRET, CANARY_TOKEN

pytestmark = pytest.mark.lab


def forms() -> dict[str, str]:
    basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    return {
        "token secret": CANARY_SECRET,
        "proxy password": PROXY_PASSWORD,
        "percent-encoded proxy password": quote(PROXY_PASSWORD, safe=""),
        "Basic credentials": basic,
    }


def texts_of(run, folder: Path) -> dict[str, str]:
    found = {"stdout": run.stdout, "stderr": run.stderr}
    for path in folder.iterdir():
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as bundle:
                for member in bundle.namelist():
                    found[f"{path.name}:{member}"] = bundle.read(member).decode("utf-8", "replace")
        else:
            found[path.name] = path.read_text(encoding="utf-8", errors="replace")
    return found


# The basic-auth squid on its http_port, and the https_port squid whose Basic auth travels inside TLS.
PROXIES = {
    "http": f"http://{{}}@{HOSTS['authproxy']}:3128",
    "https": f"https://{{}}@{name('tlsproxy')}:{TLS_PROXY_AUTH_PORT}",
}


@pytest.mark.parametrize("scheme", sorted(PROXIES))
@pytest.mark.parametrize("password", ["right", "wrong"])
def test_no_secret_in_any_output(check, tmp_path, password, scheme):
    secret = PROXY_PASSWORD if password == "right" else PROXY_PASSWORD[::-1]
    proxy = PROXIES[scheme].format(f"{PROXY_USER}:{quote(secret, safe='')}")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    run = check(
        "--url", f"https://{name('good')}/e/abc12345", "--activegate", f"https://{name('fw')}:9999",
        "--activegate", f"https://{name('expired')}", "--proxy", proxy, "-v",
        "-o", str(out / "r.json"), "-o", str(out / "r.html"), "-o", str(out / "r.xml"), "-o", str(out / "r.prom"),
        "--bundle", str(out / "b.zip"),
        env={"DT_API_TOKEN": CANARY_TOKEN}, fmt="console",
    )
    outputs = texts_of(run, out)
    assert len(outputs) > 6, outputs.keys()
    assert "dt0c01." in "".join(outputs.values())  # the token's public part is shown: the run did use it
    leaks = [
        f"{form} in {where}"
        for where, text in outputs.items()
        for form, value in {**forms(), "this password": secret, "its encoding": quote(secret, safe="")}.items()
        if value in text
    ]
    assert not leaks, leaks
    # The run did go through that proxy (its address is in the report, its credentials are not).
    assert PROXIES[scheme].format("").split("@", 1)[1] in run.stdout
