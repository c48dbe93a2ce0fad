#!/usr/bin/env bash
# CI: validate the Kubernetes manifests offline. kubernetes-validate (PyPI)
# bundles the Kubernetes JSON schemas, so nothing is fetched but the package:
# every manifest is checked strictly (unknown fields are errors) against the
# oldest and newest Kubernetes versions it knows from the list below; a
# deliberately broken copy must fail (the check is not a no-op); and a few
# rules of our own are checked: the token comes only from the Secret, the Job
# does not retry, the DaemonSet uses the node's network, nothing runs as root.
# Not done here: no cluster, no admission (Pod Security), no image pull, no run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
versions=${K8S_VERSIONS:-"1.28.0 1.31.0 1.34.0"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check 'kubernetes-validate>=1.31'
validate="$work/venv/bin/kubernetes-validate"
manifests=("$here"/*.yaml)

for version in $versions; do
  echo "=== Kubernetes $version (strict)"
  "$validate" --strict --kubernetes-version "$version" "${manifests[@]}"
done

echo "=== a broken manifest must fail"
sed -e 's/backoffLimit: 0/backofLimit: 0/' \
  "$here/job.yaml" > "$work/broken-job.yaml"
if "$validate" --strict --quiet "$work/broken-job.yaml" > "$work/broken.log" 2>&1; then
  cat "$work/broken.log"
  echo "validate.sh: FAIL: a broken Job passed validation" >&2
  exit 1
fi
grep -q "backofLimit" "$work/broken.log" || { cat "$work/broken.log"; echo "validate.sh: FAIL: rejected, but not for the typo" >&2; exit 1; }
echo "rejected as expected: $(grep -m 1 backofLimit "$work/broken.log")"

echo "=== our own rules"
"$work/venv/bin/python" - "${manifests[@]}" <<'EOF'
import sys

import yaml

documents = {}
for path in sys.argv[1:]:
    for document in yaml.safe_load_all(open(path, encoding="utf-8")):
        if document:
            documents[document["kind"]] = document


def pod(kind):
    return documents[kind]["spec"]["template"]["spec"]


problems = []
job, daemonset = documents["Job"], documents["DaemonSet"]
if job["spec"].get("backoffLimit") != 0 or pod("Job").get("restartPolicy") != "Never":
    problems.append("the Job must run once: backoffLimit 0, restartPolicy Never")
if pod("DaemonSet").get("hostNetwork") is not True:
    problems.append("the DaemonSet needs hostNetwork: true so 127.0.0.1:14499 is the node's port")
images = set()
for kind in ("Job", "DaemonSet"):
    spec = pod(kind)
    if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
        problems.append(f"{kind}: pods must run as non-root")
    for container in spec["containers"]:
        images.add(container["image"])
        if container.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
            problems.append(f"{kind}: no privilege escalation")
        env = {item["name"]: item for item in container.get("env", [])}
        token = env.get("DT_API_TOKEN", {})
        if token.get("valueFrom", {}).get("secretKeyRef", {}).get("name") != "dtdoctor":
            problems.append(f"{kind}: DT_API_TOKEN must come from the dtdoctor Secret")
        if any("dt0c01." in str(item.get("value", "")) for item in env.values()):
            problems.append(f"{kind}: a token literal in the manifest")
if len(images) != 1:
    problems.append(f"Job and DaemonSet should use one image, found {sorted(images)}")
if problems:
    sys.exit("validate.sh: FAIL: " + "; ".join(problems))
print(f"ok: {', '.join(sorted(documents))}")
EOF
echo "validate.sh: OK"
