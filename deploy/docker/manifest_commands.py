"""Run the Kubernetes manifests' commands against the built image's dtdoctor (called by ci-test.sh).

Usage: python manifest_commands.py IMAGE_CONFIG.json CONTAINER WORK_DIR MANIFEST...

For each container of each Job and DaemonSet, the argv Kubernetes would run
(``command`` or the image's ENTRYPOINT, then ``args`` or the image's CMD,
``$(VAR)`` expanded from the container's env) runs in a working container of
the image (``buildah run --isolation chroot``, as the image's user), with
the token as Kubernetes mounts it: a Secret volume at its mountPath (``..data``
symlinks, mode 0440, group = the pod's fsGroup). A ``check`` must not be a
usage error and must report the token as present; a ``serve`` must listen,
answer its readiness and liveness probes, and end within a second of SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

VOLUMES: list[str] = []  # the current container's Secret volumes, as buildah run arguments
CANARY = "dt0c01.CIPUBLIC0000000000000000." + "S" * 64
NODE_IP = "127.0.0.1"


def fail(message: str) -> None:
    sys.exit(f"manifest commands: FAIL: {message}")


def expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), value)


def container_env(container: dict[str, Any], url: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container.get("env", []):
        source = item.get("valueFrom", {})
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif source.get("fieldRef", {}).get("fieldPath") in ("status.podIP", "status.hostIP"):
            env[item["name"]] = NODE_IP  # hostNetwork: the pod's address is the node's
        elif source.get("secretKeyRef", {}).get("key") == "environment-url":
            env[item["name"]] = url
        else:
            fail(f"{container['name']}: no value for env {item['name']} ({source})")
    return env


def secret_volumes(work: Path, spec: dict[str, Any], container: dict[str, Any]) -> list[str]:
    """``--volume`` arguments that put the token where the pod would have it, laid out as the kubelet does."""
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    group = spec.get("securityContext", {}).get("fsGroup", 0)
    arguments = []
    for number, mount in enumerate(container.get("volumeMounts", [])):
        secret = volumes[mount["name"]].get("secret")
        if not secret:
            continue
        folder = work / f"volume-{container['name']}-{number}"
        stamped = folder / "..2026_01_01_00_00_00.000000001"
        stamped.mkdir(parents=True, exist_ok=True)
        for item in secret.get("items", [{"key": "api-token", "path": "api-token"}]):
            path = stamped / item["path"]
            path.write_text(CANARY + "\n", encoding="utf-8")
            os.chown(path, 0, group)
            path.chmod(secret.get("defaultMode", 0o644))
            if not (folder / item["path"]).is_symlink():
                os.symlink(f"..data/{item['path']}", folder / item["path"])
        if not (folder / "..data").is_symlink():
            os.symlink(stamped.name, folder / "..data")
        arguments += ["--volume", f"{folder}:{mount['mountPath']}:ro"]
    return arguments


def argv_of(container: dict[str, Any], image: dict[str, Any], env: dict[str, str]) -> list[str]:
    command = container.get("command") or image.get("Entrypoint") or []
    args = container.get("args") if "args" in container else ([] if "command" in container else image.get("Cmd"))
    return [expand(str(part), env) for part in [*command, *(args or [])]]


def buildah_run(name: str, user: str, env: dict[str, str], argv: list[str], **popen: Any) -> subprocess.Popen[str]:
    command = ["buildah", *os.environ.get("BUILDAH_ROOT_ARGS", "").split(), "run", "--isolation", "chroot",
               "--user", user, *VOLUMES]
    for key, value in env.items():
        command += ["--env", f"{key}={value}"]
    return subprocess.Popen([*command, name, "--", *argv], text=True, **popen)


def run_check(label: str, argv: list[str], name: str, user: str, env: dict[str, str]) -> None:
    process = buildah_run(name, user, env, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=120)
    if "dtdoctor: error:" in err or "Usage:" in err or process.returncode not in (0, 1, 2, 3):
        fail(f"{label}: {' '.join(argv)} exited {process.returncode}: {err.strip()[-400:]}")
    if "--format" in argv or "-f" in argv:
        report = json.loads(out)
        token = next(item for item in report["checks"] if item["id"] == "config.token")
        if token["code"] != "token.present":
            fail(f"{label}: the mounted token is judged {token['code']}: {token['summary']}")
    print(f"ok: {label}: {' '.join(argv)} -> exit {process.returncode}")


def descendants(pid: int) -> list[int]:
    """Every process under ``pid``, parents before children."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        children = []
        for task in Path(f"/proc/{current}/task").glob("*"):  # a Go program starts children from any thread
            try:
                children += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
        found += children
        queue += children
    return found


def alive(pid: int) -> bool:
    """Running, not just a zombie waiting for buildah to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop_serve(pid: int) -> float:
    """SIGTERM to the dtdoctor serve process under ``pid`` (buildah's wrappers); seconds until it ended."""
    def is_serve(candidate: int) -> bool:
        try:
            argv = Path(f"/proc/{candidate}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return b"serve" in argv and any(b"dtdoctor" in part for part in argv)

    serving = [candidate for candidate in descendants(pid) if is_serve(candidate)]
    if not serving:
        fail(f"no dtdoctor serve process under {pid}")
    target = serving[-1]  # the deepest: the interpreter itself, under buildah-chroot-exec
    started = time.monotonic()
    os.kill(target, signal.SIGTERM)
    while alive(target) and time.monotonic() - started < 5:
        time.sleep(0.02)
    return time.monotonic() - started


def port_of(container: dict[str, Any], port: Any) -> int:
    if isinstance(port, int):
        return port
    return next(item["containerPort"] for item in container.get("ports", []) if item.get("name") == port)


def http_status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def run_serve(label: str, argv: list[str], name: str, user: str, env: dict[str, str],
              container: dict[str, Any]) -> None:
    process = buildah_run(name, user, env, argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    seen = [process.stderr.readline() for _ in range(1)]
    while seen[-1] and "listening on" not in seen[-1] and len(seen) < 20:
        seen.append(process.stderr.readline())
    if "listening on" not in seen[-1]:
        process.wait(timeout=30)
        fail(f"{label}: {' '.join(argv)} did not listen: {''.join(seen).strip()[-400:]}")
    try:
        deadline = time.monotonic() + 60
        ready = container["readinessProbe"]["httpGet"]
        url = f"http://{NODE_IP}:{port_of(container, ready['port'])}{ready['path']}"
        while True:
            status, body = http_status(url)
            if not body.startswith("starting") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if status not in (200, 503) or not body.startswith(("ok:", "unhealthy:")):
            fail(f"{label}: readiness {url} answered {status} {body!r}")
        report = json.loads(http_status(f"http://{NODE_IP}:{port_of(container, ready['port'])}/report.json")[1])
        codes = {item["id"]: item for item in report["checks"]}
        if codes["config.token"]["code"] != "token.present":
            fail(f"{label}: the mounted token is judged {codes['config.token']['code']}")
        eec = codes.get("eec", {})
        if eec.get("code") == "eec.unavailable_in_container":
            fail(f"{label}: on the host network the node's endpoint was judged as a container's")
        live = container.get("livenessProbe", {}).get("tcpSocket")
        if live:
            socket.create_connection((NODE_IP, port_of(container, live["port"])), timeout=5).close()
        took = stop_serve(process.pid)
        if took >= 1.0:
            fail(f"{label}: serve took {took:.1f}s to end after SIGTERM")
        print(f"ok: {label}: {' '.join(argv)} -> readiness {status}, eec {eec.get('code')}, "
              f"ended {took:.2f}s after SIGTERM")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def main() -> None:
    if sys.argv[1] == "--stop":  # ci-test.sh: stop the serve under this pid, print the milliseconds it took
        print(round(stop_serve(int(sys.argv[2])) * 1000))
        return
    image = json.loads(Path(sys.argv[1]).read_text())
    name, work = sys.argv[2], Path(sys.argv[3])
    user = image.get("User") or "0"
    count = 0
    for path in sys.argv[4:]:
        for document in yaml.safe_load_all(Path(path).read_text(encoding="utf-8")):
            if not document or document.get("kind") not in ("Job", "DaemonSet"):
                continue
            spec = document["spec"]["template"]["spec"]
            for container in spec["containers"]:
                label = f"{document['kind']}/{container['name']}"
                env = container_env(container, "http://127.0.0.1:9/")
                VOLUMES[:] = secret_volumes(work, spec, container)
                argv = argv_of(container, image, env)
                if argv[1:2] == ["serve"]:
                    run_serve(label, argv, name, user, env, container)
                else:
                    run_check(label, argv, name, user, env)
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    command = container.get(probe, {}).get("exec", {}).get("command")
                    if command:
                        run_check(f"{label} {probe}", [expand(part, env) for part in command], name, user, env)
                count += 1
    if not count:
        fail("no Job or DaemonSet container found")


if __name__ == "__main__":
    main()
