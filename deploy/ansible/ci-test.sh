#!/usr/bin/env bash
# CI test of the Ansible integration, for real: ansible-core from PyPI runs
# dtdoctor.yml against three hosts on the local connection, each with its own
# virtualenv and report path, installing dtdoctor from this checkout. The
# environment URL points at a loopback port nothing listens on (every host
# then reports tcp.refused: the point is the pipeline) and a canary token
# comes from an Ansible Vault file. Passes when the merged fleet report lists
# all three hosts and the token's secret appears nowhere: not in Ansible's
# output (run with -vvv, which shows the remote commands), not in the
# reports, not in the fleet files; and that it did reach dtdoctor.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hosts=(host1 host2 host3)

fail() { echo "ansible ci-test: FAIL: $*" >&2; exit 1; }

echo "=== ansible-core from PyPI"
"$python" -m venv "$work/ansible-venv"
"$work/ansible-venv/bin/pip" install -q --disable-pip-version-check ansible-core
version=$("$work/ansible-venv/bin/ansible-playbook" --version); echo "${version%%$'\n'*}"

# A copy of the checkout per install: pip builds in the source tree, and
# parallel builds of one tree would race (and litter the checkout).
copy_checkout() {
  mkdir -p "$1"
  tar -C "$repo" --exclude=.git --exclude='*.egg-info' --exclude=build --exclude=dist --exclude=.venv \
      --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache --exclude=__pycache__ \
      --exclude=.hypothesis --exclude=deploy/ansible/reports -cf - . | tar -C "$1" -xf -
}

{
  echo "dtdoctor:"
  echo "  hosts:"
  for host in "${hosts[@]}"; do
    copy_checkout "$work/$host/src"
    echo "    $host:"
    echo "      dtdoctor_package: $work/$host/src"
    echo "      dtdoctor_venv: $work/$host/venv"
    echo "      dtdoctor_report_path: $work/$host/report.json"
  done
  copy_checkout "$work/controller/src"
  echo "  vars:"
  echo "    ansible_connection: local"
  echo "    ansible_python_interpreter: $work/ansible-venv/bin/python"
  echo "    dtdoctor_python: $python"
  echo "    dtdoctor_check_args: ['--timeout', '1']"
  echo "    dtdoctor_controller_python: $python"
  echo "    dtdoctor_controller_venv: $work/controller/venv"
  echo "    dtdoctor_controller_package: $work/controller/src"
  echo "    dtdoctor_reports_dir: $work/reports"
  echo "    dtdoctor_fleet_outputs: ['$work/fleet.html', '$work/fleet.json']"
} > "$work/inventory.yml"

# A loopback port nothing listens on, and a canary token in a vault.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret="CANARYANSIBLE$(printf '7%.0s' $(seq 1 39))ZZSECRETZZZZ"
token="dt0c01.CANARYPUBLIC000000000000.$secret"
[ ${#secret} -eq 64 ] || fail "canary secret must be 64 characters, is ${#secret}"
printf 'ci-vault-password\n' > "$work/vault-password"
cat > "$work/vault.yml" <<EOF
vault_dtdoctor_environment_url: "http://127.0.0.1:$port/"
vault_dtdoctor_api_token: "$token"
EOF
"$work/ansible-venv/bin/ansible-vault" encrypt --vault-password-file "$work/vault-password" "$work/vault.yml" >/dev/null
grep -q '^\$ANSIBLE_VAULT' "$work/vault.yml" || fail "vault file not encrypted"

echo "=== ansible-playbook against ${hosts[*]} (local connection)"
export ANSIBLE_HOME="$work/ansible-home" ANSIBLE_LOCAL_TEMP="$work/ansible-tmp" ANSIBLE_REMOTE_TEMP="$work/ansible-tmp"
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
export ANSIBLE_CONFIG="$work/no-ansible.cfg"
rc=0
"$work/ansible-venv/bin/ansible-playbook" -vvv -i "$work/inventory.yml" "$here/dtdoctor.yml" \
    -e "@$work/vault.yml" --vault-password-file "$work/vault-password" > "$work/ansible.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
  cat "$work/ansible.log"
  fail "ansible-playbook exited $rc"
fi
# The gist: tasks, per-host outcomes and the recap, long result lines cut short.
grep -E '^(PLAY|TASK|ok:|changed:|skipping:|fatal:|host[0-9]+ +:)|"msg"|merged ' "$work/ansible.log" | cut -c 1-220

echo "=== checks"
for file in "$work/fleet.html" "$work/fleet.json"; do
  [ -s "$file" ] || fail "$file was not written"
done
if grep -R -l -F "$secret" "$work/ansible.log" "$work/reports" "$work/fleet.html" "$work/fleet.json" \
    "${hosts[@]/#/$work/}" --include='*.json' --include='*.log' --include='*.html' 2>/dev/null; then
  fail "the token's secret appeared in the files above"
fi
grep -q -F "${secret:0:12}" "$work/ansible.log" && fail "part of the token's secret appeared in Ansible's output"
"$python" - "$work/fleet.json" "$work/reports" "${hosts[@]}" <<'EOF'
import json
import sys
from pathlib import Path

fleet = json.load(open(sys.argv[1], encoding="utf-8"))
expected = set(sys.argv[3:])
for host in sorted(expected):
    report = json.loads((Path(sys.argv[2]) / f"{host}.json").read_text(encoding="utf-8"))
    shown = report["config"]["token"] or ""
    assert shown.startswith("dt0c01.CANARYPUBLIC000000000000."), f"{host}: the token did not reach dtdoctor: {shown!r}"
listed = {host["host"] for host in fleet["hosts"]}
assert listed == expected, f"fleet lists {sorted(listed)}, expected {sorted(expected)}"
assert fleet["files"]["read"] == len(expected) and not fleet["files"]["skipped"], fleet["files"]
for host in fleet["hosts"]:
    codes = {problem["code"] for problem in host["problems"]}
    assert "tcp.refused" in codes, f"{host['host']}: expected tcp.refused from the closed port, got {sorted(codes)}"
refused = next(code for code in fleet["codes"] if code["code"] == "tcp.refused")
assert refused["hosts"] == len(expected), refused
print(f"fleet.json lists {sorted(listed)}; all share tcp.refused on {refused['shared'][0]['values'][0]['value']}")
EOF
for host in "${hosts[@]}"; do
  grep -q -F "$host" "$work/fleet.html" || fail "fleet.html does not list $host"
done
echo "ansible ci-test: OK"
