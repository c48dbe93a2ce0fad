#!/usr/bin/env bash
# CI check of the Dockerfile without a container engine (none on the CI
# machine): the image's two install steps are replayed on the host with the
# same commands (wheels for the checkout and its dependencies, then an
# offline install from only those wheels into a fresh virtualenv), and the
# installed dtdoctor must run `check` and `merge` to an HTML page (so the
# templates are in the wheel). The Dockerfile's own promises are checked as
# text: python:3.12-slim base, a numeric non-root USER, ENTRYPOINT dtdoctor.
# Not done: no image is built, no base image pulled, nothing runs in a container.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "docker ci-test: FAIL: $*" >&2; exit 1; }

dockerfile="$here/Dockerfile"
grep -Eq '^FROM python:3\.12-slim( |$)' "$dockerfile" || fail "runtime base is not python:3.12-slim"
[ "$(grep -Ec '^FROM ' "$dockerfile")" -eq 2 ] || fail "expected a wheel stage and a runtime stage"
user=$(grep -E '^USER ' "$dockerfile" | tail -n 1 | awk '{print $2}')
case "${user%%:*}" in ''|0|root|*[!0-9]*) fail "the last USER must be a numeric non-root user, is '$user'";; esac
grep -Eq '^ENTRYPOINT \["dtdoctor"\]' "$dockerfile" || fail "ENTRYPOINT is not dtdoctor"

echo "=== stage 1: pip wheel of the checkout and its dependencies"
mkdir -p "$work/src"
tar -C "$repo" --exclude=.git --exclude='*.egg-info' --exclude=build --exclude=dist --exclude=.venv \
    --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache --exclude=__pycache__ -cf - . \
  | tar -C "$work/src" -xf -
"$python" -m pip wheel -q --disable-pip-version-check --wheel-dir "$work/wheels" "$work/src"
echo "=== stage 2: offline install from those wheels only"
"$python" -m venv "$work/runtime"
"$work/runtime/bin/pip" install -q --disable-pip-version-check --no-index --find-links "$work/wheels" dtdoctor
"$work/runtime/bin/dtdoctor" --version
rc=0
(cd "$work" && env -u DT_ENVIRONMENT_URL -u DT_API_TOKEN "$work/runtime/bin/dtdoctor" check --format json \
   > "$work/report.json") || rc=$?
[ "$rc" -le 3 ] || fail "dtdoctor check exited $rc"
"$work/runtime/bin/dtdoctor" merge "$work/report.json" -o "$work/fleet.html" -o "$work/fleet.json" || [ $? -le 3 ]
grep -q 'class="matrix"' "$work/fleet.html" || fail "the installed wheel cannot render the fleet page"
echo "docker ci-test: OK (replayed without a container engine)"
