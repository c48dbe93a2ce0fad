"""The Kubernetes pieces' own rules, beyond what the schemas say (run by validate.sh).

Usage: python rules.py DEPLOY_KUBERNETES_DIR; exits non-zero naming every broken rule.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

TOKEN_DIR = "/etc/dtdoctor/secret"
PORT = 9758


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def pod(document: dict[str, Any]) -> dict[str, Any]:
    return document["spec"]["template"]["spec"]


def container_rules(kind: str, spec: dict[str, Any], secret_keys: set[str]) -> list[str]:
    problems = []
    if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
        problems.append(f"{kind}: pods must run as non-root")
    if spec.get("securityContext", {}).get("fsGroup") is None:
        problems.append(f"{kind}: an fsGroup, so the 0440 token file is readable by the pod")
    token_volumes = {volume["name"] for volume in spec.get("volumes", [])
                     if volume.get("secret", {}).get("secretName") == "dtdoctor"
                     and volume["secret"].get("defaultMode") == 0o440}
    for container in spec["containers"]:
        context = container.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{kind}: no privilege escalation")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{kind}: the root filesystem must be read-only")
        env = {item["name"]: item for item in container.get("env", [])}
        if "DT_API_TOKEN" in env:
            problems.append(f"{kind}: the token must come as a mounted file, not DT_API_TOKEN")
        for item in env.values():
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref and (ref.get("name") != "dtdoctor" or ref.get("key") not in secret_keys):
                problems.append(f"{kind}: {item['name']} reads key {ref.get('key')!r} of Secret {ref.get('name')!r}, "
                                f"which examples/secret.example.yaml does not have")
            if "dt0c01." in str(item.get("value", "")):
                problems.append(f"{kind}: a token literal in the manifest")
        mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
        if mounts.get(TOKEN_DIR) not in token_volumes:
            problems.append(f"{kind}: {TOKEN_DIR} must be the dtdoctor Secret's volume with defaultMode 0440")
        if f"{TOKEN_DIR}/api-token" not in " ".join(container.get("args", [])):
            problems.append(f"{kind}: dtdoctor must read --token-file {TOKEN_DIR}/api-token")
    return problems


def daemonset_rules(daemonset: dict[str, Any]) -> list[str]:
    spec = pod(daemonset)
    container = spec["containers"][0]
    problems = []
    if spec.get("hostNetwork") is not True:
        problems.append("DaemonSet: hostNetwork: true, so 127.0.0.1:14499 is the node's port")
    if spec.get("dnsPolicy") != "Default":
        problems.append("DaemonSet: dnsPolicy: Default, so DNS is the node's resolver")
    if "command" in container:
        problems.append("DaemonSet: no command override: the image's dtdoctor is PID 1 (no shell, no sleep)")
    args = container.get("args", [])
    if args[:1] != ["serve"]:
        problems.append(f"DaemonSet: the container runs 'dtdoctor serve', not {args[:1]}")
    if f"--listen=$(DTDOCTOR_HOST_IP):{PORT}" not in args:
        problems.append(f"DaemonSet: serve listens on the node's address: --listen=$(DTDOCTOR_HOST_IP):{PORT}")
    fields = {item["name"]: item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
              for item in container.get("env", [])}
    if fields.get("DTDOCTOR_POD_IP") != "status.podIP" or fields.get("DTDOCTOR_HOST_IP") != "status.hostIP":
        problems.append("DaemonSet: DTDOCTOR_POD_IP and DTDOCTOR_HOST_IP from status.podIP and status.hostIP")
    probe = container.get("readinessProbe", {}).get("httpGet", {})
    if probe.get("path") != "/healthz":
        problems.append("DaemonSet: the readiness probe asks serve's /healthz")
    annotations = daemonset["spec"]["template"]["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/port") != str(PORT) or annotations.get("prometheus.io/scrape") != "true":
        problems.append("DaemonSet: prometheus.io scrape annotations for port 9758")
    return problems


def kustomize_rules(here: Path) -> list[str]:
    kustomization = load(here / "kustomization.yaml")[0]
    problems = []
    listed = {(here / item).resolve() for item in kustomization.get("resources", [])}
    present = {path.resolve() for path in (here / "manifests").glob("*.yaml")}
    if listed != present:
        problems.append(f"kustomization.yaml lists {sorted(p.name for p in listed)}, "
                        f"manifests/ has {sorted(p.name for p in present)}")
    if any(doc.get("kind") == "Secret" for path in present for doc in load(path)):
        problems.append("a Secret in manifests/: applying would overwrite the real one")
    return problems


def servicemonitor_rules(here: Path, daemonset: dict[str, Any]) -> list[str]:
    documents = {doc["kind"]: doc for doc in load(here / "examples" / "servicemonitor.yaml")}
    service, monitor = documents.get("Service"), documents.get("ServiceMonitor")
    if service is None or monitor is None:
        return ["examples/servicemonitor.yaml: a Service and a ServiceMonitor"]
    problems = []
    if monitor.get("apiVersion") != "monitoring.coreos.com/v1":
        problems.append("ServiceMonitor: apiVersion monitoring.coreos.com/v1")
    pod_labels = daemonset["spec"]["template"]["metadata"]["labels"]
    if any(pod_labels.get(key) != value for key, value in service["spec"]["selector"].items()):
        problems.append("Service: its selector does not select the DaemonSet's pods")
    selector = monitor["spec"]["selector"]["matchLabels"]
    if any(service["metadata"]["labels"].get(key) != value for key, value in selector.items()):
        problems.append("ServiceMonitor: its selector does not select the Service")
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        if endpoint.get("port") not in port_names or endpoint.get("path") != "/metrics":
            problems.append(f"ServiceMonitor: endpoint {endpoint} does not scrape the Service's /metrics")
    return problems


def main(here: Path) -> int:
    documents = {doc["kind"]: doc for path in sorted((here / "manifests").glob("*.yaml")) for doc in load(path)}
    secret = load(here / "examples" / "secret.example.yaml")[0]
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    job, daemonset = documents["Job"], documents["DaemonSet"]
    problems = []
    if job["spec"].get("backoffLimit") != 0 or pod(job).get("restartPolicy") != "Never":
        problems.append("Job: runs once: backoffLimit 0, restartPolicy Never")
    for kind in ("Job", "DaemonSet"):
        problems += container_rules(kind, pod(documents[kind]), secret_keys)
    problems += daemonset_rules(daemonset)
    problems += kustomize_rules(here)
    problems += servicemonitor_rules(here, daemonset)
    images = {container["image"] for kind in ("Job", "DaemonSet") for container in pod(documents[kind])["containers"]}
    if len(images) != 1:
        problems.append(f"Job and DaemonSet should use one image, found {sorted(images)}")
    for problem in problems:
        print(f"rules: FAIL: {problem}", file=sys.stderr)
    if not problems:
        print(f"rules: ok: {', '.join(sorted(documents))}, kustomization.yaml, examples/servicemonitor.yaml")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
