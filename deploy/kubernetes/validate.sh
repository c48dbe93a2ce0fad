#!/usr/bin/env bash
# CI: validate the Kubernetes manifests offline. kubernetes-validate (PyPI)
# bundles the Kubernetes JSON schemas, so nothing is fetched but the package.
# - manifests/ (what `kubectl apply -f` applies) and the Service of
#   examples/servicemonitor.yaml, strictly (unknown fields are errors), against
#   the oldest and newest Kubernetes versions below; a broken copy must fail.
# - kustomization.yaml and the ServiceMonitor are not Kubernetes core kinds, so
#   the strict validator cannot read them: they are checked apart (every
#   kustomize resource exists and is a manifest; the ServiceMonitor selects the
#   Service and its port).
# - our own rules: the token only as a file from the Secret's volume (0440,
#   fsGroup), every secretKeyRef key exists in the example Secret, the Job runs
#   once, the DaemonSet runs `dtdoctor serve` as PID 1 on the node's network
#   and DNS with the downward API's addresses, read-only root, non-root.
# The commands themselves are run against the image's dtdoctor by the image
# stage (deploy/docker/ci-test.sh, manifest-commands.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
versions=${K8S_VERSIONS:-"1.28.0 1.31.0 1.34.0"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check 'kubernetes-validate>=1.31'
validate="$work/venv/bin/kubernetes-validate"
manifests=("$here"/manifests/*.yaml)

# The example's core objects, without the ServiceMonitor (a custom resource).
"$work/venv/bin/python" - "$here/examples/servicemonitor.yaml" "$work/examples-core.yaml" <<'EOF'
import sys

import yaml

documents = [doc for doc in yaml.safe_load_all(open(sys.argv[1], encoding="utf-8")) if doc]
core = [doc for doc in documents if not doc["apiVersion"].startswith("monitoring.coreos.com/")]
yaml.safe_dump_all(core, open(sys.argv[2], "w", encoding="utf-8"))
EOF

for version in $versions; do
  echo "=== Kubernetes $version (strict)"
  "$validate" --strict --kubernetes-version "$version" "${manifests[@]}" "$here/examples/secret.example.yaml" \
    "$work/examples-core.yaml"
done

echo "=== a broken manifest must fail"
sed -e 's/backoffLimit: 0/backofLimit: 0/' "$here/manifests/job.yaml" > "$work/broken-job.yaml"
if "$validate" --strict --quiet "$work/broken-job.yaml" > "$work/broken.log" 2>&1; then
  cat "$work/broken.log"
  echo "validate.sh: FAIL: a broken Job passed validation" >&2
  exit 1
fi
grep -q "backofLimit" "$work/broken.log" || { cat "$work/broken.log"; echo "validate.sh: FAIL: rejected, but not for the typo" >&2; exit 1; }
echo "rejected as expected: $(grep -m 1 backofLimit "$work/broken.log")"

echo "=== kustomization, ServiceMonitor and our own rules"
"$work/venv/bin/python" "$here/rules.py" "$here"
echo "validate.sh: OK"
