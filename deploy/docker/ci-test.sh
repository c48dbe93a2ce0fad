#!/usr/bin/env bash
# CI: build the image from deploy/docker/Dockerfile itself, with Debian's
# buildah (`buildah bud --isolation chroot --format docker`: the docker format
# keeps HEALTHCHECK), and run it:
# - the Dockerfile's default base must be python:X.Y with X.Y at least the
#   oldest Python dtdoctor supports, and every stage must be built FROM it
#   (so the build below, on another base, builds the same stages);
# - the base: the default one when it can be pulled; where it cannot, a base
#   made here with debootstrap and the distribution's Python, passed as
#   --build-arg BASE (the Dockerfile's install steps run unchanged);
# - the image's config: a numeric non-root USER, a HEALTHCHECK on /healthz,
#   the ENTRYPOINT and CMD; then, in a working container (buildah run
#   --isolation chroot, as the image's user): ENTRYPOINT --version, ENTRYPOINT
#   check -f json, and ENTRYPOINT + CMD as the container would start, whose
#   HEALTHCHECK must agree with its /healthz and which must end within a
#   second of SIGTERM;
# - the Kubernetes manifests' commands, run against this image's dtdoctor
#   (manifest_commands.py).
# Needs root (buildah, debootstrap); installs them when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
export STORAGE_DRIVER=vfs
storage=(--root "$work/storage" --runroot "$work/run")
ctr=""
serve_pid=""
cleanup() {
  # A serve left running by a failed step: buildah run ends its process when it is ended itself.
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  [ -n "$ctr" ] && buildah "${storage[@]}" rm "$ctr" >/dev/null 2>&1 || true
  buildah "${storage[@]}" rm --all >/dev/null 2>&1 || true
  # buildah's private mounts under the work folder (its storage's overlay folder), innermost first.
  awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n 1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "image ci-test: FAIL: $*" >&2; exit 1; }
dockerfile="$here/Dockerfile"

if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "=== installing buildah and debootstrap"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null) \
    || fail "cannot install buildah and debootstrap"
fi
buildah --version

echo "=== the Dockerfile's base"
base=$(sed -n 's/^ARG BASE=\(.*\)$/\1/p' "$dockerfile" | head -n 1)
[ -n "$base" ] || fail "no 'ARG BASE=...' default in the Dockerfile"
stages=$(grep -E '^FROM ' "$dockerfile" | awk '{print $2}' | sort -u)
[ "$stages" = '${BASE}' ] || fail "every stage must be FROM \${BASE} (so the CI build is the real one), found: $stages"
oldest=$(sed -n 's/^requires-python = ">=\([0-9.]*\)"$/\1/p' "$repo/pyproject.toml")
version=$(printf '%s\n' "$base" | sed -n 's/^python:\([0-9]*\.[0-9]*\)[-.].*$/\1/p')
[ -n "$version" ] || fail "default base '$base' is not python:X.Y-...: its Python version cannot be judged"
printf '%s\n%s\n' "$oldest" "$version" | sort -V -C || fail "default base $base has Python $version; dtdoctor needs >= $oldest"
echo "default base $base (Python $version, dtdoctor needs >= $oldest)"

build_base=$base
if ! timeout 90 buildah "${storage[@]}" pull -q "docker.io/library/$base" >/dev/null 2>&1; then
  echo "=== $base cannot be pulled here: a base from debootstrap with Debian's Python"
  started=$(date +%s)
  nice debootstrap --variant=minbase --include=python3,python3-venv bookworm "$work/rootfs" \
    http://deb.debian.org/debian > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  basectr=$(buildah "${storage[@]}" from scratch)
  mnt=$(buildah "${storage[@]}" mount "$basectr")
  cp -a "$work/rootfs/." "$mnt/"
  rm -rf "$work/rootfs"
  buildah "${storage[@]}" umount "$basectr" >/dev/null
  buildah "${storage[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$basectr"
  buildah "${storage[@]}" commit -q --rm "$basectr" localhost/dtdoctor-ci-base >/dev/null
  build_base=localhost/dtdoctor-ci-base
  echo "base made in $(( $(date +%s) - started ))s: $(chroot "$mnt" python3 --version 2>/dev/null || echo Debian bookworm python3)"
fi

echo "=== buildah bud -f deploy/docker/Dockerfile (base $build_base)"
started=$(date +%s)
# The build's pip trusts what this machine trusts (a TLS-inspecting proxy's CA, if any), as a build secret.
nice buildah "${storage[@]}" bud --isolation chroot --format docker -q -f "$dockerfile" \
  --build-arg "BASE=$build_base" --secret "id=pip-ca,src=/etc/ssl/certs/ca-certificates.crt" \
  -t localhost/dtdoctor:ci "$repo" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail "the image build failed"; }
echo "built in $(( $(date +%s) - started ))s"

buildah "${storage[@]}" inspect --type image localhost/dtdoctor:ci > "$work/inspect.json"
"$python" - "$work/inspect.json" "$work/config.json" <<'EOF'
import json
import sys

config = json.load(open(sys.argv[1]))["Docker"]["config"]
json.dump(config, open(sys.argv[2], "w"))
problems = []
user = (config.get("User") or "").split(":")[0]
if not user.isdigit() or user == "0":
    problems.append(f"USER must be a numeric non-root user, is {config.get('User')!r}")
test = (config.get("Healthcheck") or {}).get("Test") or []
if not test or test[0] not in ("CMD", "CMD-SHELL") or "/healthz" not in " ".join(test):
    problems.append(f"HEALTHCHECK must ask serve's /healthz, is {test!r}")
if not config.get("Entrypoint"):
    problems.append("no ENTRYPOINT")
if problems:
    sys.exit("image ci-test: FAIL: " + "; ".join(problems))
print(f"config: USER {config['User']}, ENTRYPOINT {config['Entrypoint']}, CMD {config.get('Cmd')}, "
      f"HEALTHCHECK {test[0]} ...{test[-1][-60:]!r}")
EOF

ctr=$(buildah "${storage[@]}" from -q localhost/dtdoctor:ci)
user=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["User"])' "$work/config.json")
mapfile -t entrypoint < <("$python" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["Entrypoint"]))' "$work/config.json")
mapfile -t cmd < <("$python" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["Cmd"] or []))' "$work/config.json")
# NUL-separated: the HEALTHCHECK's Python program spans several lines.
mapfile -t -d '' health < <("$python" -c 'import json,sys; sys.stdout.write("\0".join(json.load(open(sys.argv[1]))["Healthcheck"]["Test"][1:]))' "$work/config.json")
in_image() { buildah "${storage[@]}" run --isolation chroot --user "$user" "$ctr" -- "$@"; }

echo "=== in the image: ENTRYPOINT --version, ENTRYPOINT check"
out=$(in_image "${entrypoint[@]}" --version) || fail "'${entrypoint[*]} --version' failed"
echo "$out"
[[ "$out" == "dtdoctor "* ]] || fail "--version printed '$out'"
rc=0
in_image "${entrypoint[@]}" check -f json > "$work/report.json" 2> "$work/check.err" || rc=$?
[ "$rc" -le 3 ] && ! grep -q "dtdoctor: error:" "$work/check.err" || { cat "$work/check.err"; fail "check exited $rc"; }
"$python" -c 'import json,sys; r=json.load(open(sys.argv[1])); print("check: exit", r["exit_code"], r["counts"], "container", r["host"]["container"])' "$work/report.json"

"$python" -c 'import yaml' 2>/dev/null || "$python" -m pip install -q pyyaml
echo "=== in the image: ENTRYPOINT + CMD as the container starts, and its HEALTHCHECK"
buildah "${storage[@]}" run --isolation chroot --user "$user" "$ctr" -- "${entrypoint[@]}" "${cmd[@]}" \
  > /dev/null 2> "$work/serve.err" &
serve_pid=$!
for _ in $(seq 100); do grep -q "run 1 finished" "$work/serve.err" && break; sleep 0.3; done
grep -q "run 1 finished" "$work/serve.err" || { cat "$work/serve.err"; fail "'${entrypoint[*]} ${cmd[*]}' did not run"; }
code=$("$python" -c 'import urllib.request as u, urllib.error as e
try: print(u.urlopen("http://127.0.0.1:9758/healthz", timeout=10).status)
except e.HTTPError as error: print(error.code)')
hc=0; health_out=$(in_image "${health[@]}" 2>&1) || hc=$?
echo "/healthz $code, HEALTHCHECK exit $hc: $health_out"
! grep -q "Traceback" <<<"$health_out" || fail "HEALTHCHECK printed a traceback into the health log"
{ [ "$code" = 200 ] && [ "$hc" = 0 ]; } || { [ "$code" = 503 ] && [ "$hc" = 1 ]; } \
  || fail "HEALTHCHECK (exit $hc) disagrees with /healthz ($code)"
took=$("$python" "$here/manifest_commands.py" --stop "$serve_pid")
wait "$serve_pid" 2>/dev/null || true
serve_pid=""
echo "ended ${took} ms after SIGTERM"
[ "$took" -lt 1000 ] || fail "the container's process took ${took} ms to end after SIGTERM"

echo "=== the Kubernetes manifests' commands against this image"
BUILDAH_ROOT_ARGS="--root $work/storage --runroot $work/run" \
  "$python" "$here/manifest_commands.py" "$work/config.json" "$ctr" "$work" "$repo"/deploy/kubernetes/manifests/*.yaml
echo "image ci-test: OK"
