#!/usr/bin/env bash
# CI test of the Ansible integration, for real: ansible-core from PyPI runs
# dtdoctor.yml against four hosts:
#   host1, host2  local connection, each with its own install folder and report path;
#   broken        local connection, but its Python does not exist: dtdoctor cannot run
#                 there (and an old report of it waits in reports/, which must not be used);
#   gone          SSH to a loopback port nothing listens on: unreachable.
# dtdoctor comes from the default install source, the single file scripts/build-pyz
# makes on the controller, verified by SHA256SUMS there and on each host. The
# environment URL points at a loopback port nothing listens on (every checked
# host reports tcp.refused: the point is the pipeline) and a canary token comes
# from an Ansible Vault file. Passes when
# - the play fails (a host could not be checked) and fleet.json/fleet.html name
#   "broken" (could_not_run) and "gone" (unreachable) and list host1 and host2;
# - with -e dtdoctor_fail_on_unchecked=false the same play succeeds;
# - an unpinned install from an index is refused;
# - the token's secret appears nowhere (Ansible's -vvv output, reports, fleet
#   files), and it did reach dtdoctor.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
checked=(host1 host2)

fail() { echo "ansible ci-test: FAIL: $*" >&2; exit 1; }

echo "=== ansible-core from PyPI"
"$python" -m venv "$work/ansible-venv"
"$work/ansible-venv/bin/pip" install -q --disable-pip-version-check ansible-core
version=$("$work/ansible-venv/bin/ansible-playbook" --version); echo "${version%%$'\n'*}"
command -v ssh >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-client >/dev/null; }

closed_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ssh_port=$(closed_port)
{
  echo "dtdoctor:"
  echo "  hosts:"
  for host in "${checked[@]}" broken; do
    echo "    $host:"
    echo "      ansible_connection: local"
    echo "      ansible_python_interpreter: $work/ansible-venv/bin/python"
    echo "      dtdoctor_install_dir: $work/$host/opt"
    echo "      dtdoctor_report_path: $work/$host/report.json"
  done
  echo "      dtdoctor_python: $work/broken/no-such-python3"
  echo "    gone:"
  echo "      ansible_host: 127.0.0.1"
  echo "      ansible_port: $ssh_port"
  echo "      ansible_user: nobody"
  echo "      ansible_ssh_common_args: '-o ConnectTimeout=5 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'"
  echo "  vars:"
  echo "    dtdoctor_python: $python"
  echo "    dtdoctor_check_args: ['--timeout', '1']"
  echo "    dtdoctor_controller_python: $python"
  echo "    dtdoctor_dist_dir: $work/dist"
  echo "    dtdoctor_reports_dir: $work/reports"
  echo "    dtdoctor_expect_file: $work/expected-hosts.txt"
  echo "    dtdoctor_fleet_outputs: ['$work/fleet.html', '$work/fleet.json']"
} > "$work/inventory.yml"

# A loopback port nothing listens on, and a canary token in a vault.
port=$(closed_port)
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

# An old report of the broken host, as a previous run would have left it: it must not be merged.
mkdir -p "$work/reports"
(cd "$work" && env -u DT_ENVIRONMENT_URL -u DT_API_TOKEN "$python" -m dtdoctor check --only config -f json \
   > "$work/reports/broken.json") || true
grep -q '"schema"' "$work/reports/broken.json" || fail "could not make the old report"

export ANSIBLE_HOME="$work/ansible-home" ANSIBLE_LOCAL_TEMP="$work/ansible-tmp" ANSIBLE_REMOTE_TEMP="$work/ansible-tmp"
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
export ANSIBLE_CONFIG="$work/no-ansible.cfg" ANSIBLE_HOST_KEY_CHECKING=0
play() {  # $1: log file, rest: extra ansible-playbook arguments; prints the exit code
  local log=$1 rc=0
  shift
  "$work/ansible-venv/bin/ansible-playbook" -vvv -i "$work/inventory.yml" "$here/dtdoctor.yml" \
      -e "@$work/vault.yml" --vault-password-file "$work/vault-password" "$@" > "$log" 2>&1 || rc=$?
  echo "$rc"
}
gist() { grep -E '^(PLAY|TASK|ok:|changed:|fatal:|(host[0-9]|broken|gone) +:)|"msg"|merged ' "$1" | cut -c 1-220 || true; }

echo "=== ansible-playbook against host1 host2 broken gone"
rc=$(play "$work/ansible.log")
gist "$work/ansible.log"
[ "$rc" -ne 0 ] || fail "the play succeeded although two hosts could not be checked"
grep -q "could not be checked: broken (could_not_run), gone (unreachable)" "$work/ansible.log" \
  || { tail -60 "$work/ansible.log"; fail "the play did not fail for the unchecked hosts (exit $rc)"; }
echo "play exit $rc, as it must"

echo "=== checks"
for file in "$work/fleet.html" "$work/fleet.json"; do
  [ -s "$file" ] || fail "$file was not written"
done
"$python" - "$work/fleet.json" "$work/reports" "${checked[@]}" <<'EOF'
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
assert listed == expected, f"fleet lists {sorted(listed)}, expected {sorted(expected)} (the old report of broken must be gone)"
missing = {item["host"]: item for item in fleet["hosts_missing"]}
assert sorted(missing) == ["broken", "gone"], fleet["hosts_missing"]
assert missing["broken"]["reason"] == "could_not_run" and "no-such-python3" in missing["broken"]["note"], missing
assert missing["gone"]["reason"] == "unreachable", missing
assert fleet["status"] == "error" and fleet["exit_code"] == 3 and fleet["hosts_expected"] == 4, fleet["status"]
for host in fleet["hosts"]:
    codes = {problem["code"] for problem in host["problems"]}
    assert "tcp.refused" in codes, f"{host['host']}: expected tcp.refused from the closed port, got {sorted(codes)}"
print(f"fleet.json lists {sorted(listed)}; missing: "
      + ", ".join(f"{name} ({item['reason']}: {item.get('note', '')[:60]})" for name, item in sorted(missing.items())))
EOF
for host in "${checked[@]}" broken gone; do
  grep -q -F "$host" "$work/fleet.html" || fail "fleet.html does not name $host"
done
grep -q "Hosts not accounted for" "$work/fleet.html" || fail "fleet.html does not show the unaccounted hosts"

echo "=== told not to fail for unchecked hosts, the same play succeeds"
rc=$(play "$work/ansible-go-on.log" -e dtdoctor_fail_on_unchecked=false -e dtdoctor_build_pyz=false)
gist "$work/ansible-go-on.log" | grep -E "merged|fatal|recap|^(host|broken|gone)" || true
[ "$rc" -eq 0 ] || { tail -40 "$work/ansible-go-on.log"; fail "the play failed (exit $rc) with dtdoctor_fail_on_unchecked=false"; }

echo "=== an unpinned install from an index is refused"
rc=$(play "$work/ansible-unpinned.log" -e dtdoctor_install_source=index -e dtdoctor_index_requirement=dtdoctor \
     -e dtdoctor_build_pyz=false)
[ "$rc" -ne 0 ] && grep -q "pinned to a version" "$work/ansible-unpinned.log" \
  || { tail -30 "$work/ansible-unpinned.log"; fail "an unpinned index install was not refused (exit $rc)"; }
grep -q "pip install" "$work/ansible-unpinned.log" && fail "pip ran although the requirement was unpinned"
echo "refused: $(grep -o 'index needs[^"]*pinned to a version' "$work/ansible-unpinned.log" | head -n 1)"

echo "=== the token's secret"
if grep -R -l -F "$secret" "$work"/ansible*.log "$work/reports" "$work/fleet.html" "$work/fleet.json" \
    "$work/expected-hosts.txt" "$work"/host*/report.json 2>/dev/null; then
  fail "the token's secret appeared in the files above"
fi
grep -q -F "${secret:0:12}" "$work"/ansible*.log && fail "part of the token's secret appeared in Ansible's output"
echo "ansible ci-test: OK"
