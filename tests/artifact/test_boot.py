"""The single-file bootstrap: where it unpacks, what it trusts, what an old Python is told.

Real archives built in ``tmp_path`` with the build script's own writer and a
small wheel; the full artifact is built and run on every installed Python by
``.ci/artifact``.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


def load(name: str, path: Path) -> ModuleType:
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


build = load("build_pyz", ROOT / "scripts" / "build-pyz")
boot = load("dtdoctor_boot_under_test", ROOT / "scripts" / "pyzboot" / "_dtdoctor_boot.py")


def small_wheel(tmp_path: Path) -> Path:
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as wheel:
        wheel.writestr("probe_pkg/__init__.py", "ANSWER = 42\n")
        wheel.writestr("probe_pkg-1.0.dist-info/METADATA", "Name: probe-pkg\nVersion: 1.0\n")
    path = tmp_path / "probe_pkg-1.0-py3-none-any.whl"
    path.write_bytes(body.getvalue())
    return path


def make_archive(tmp_path: Path, pythons: tuple[str, ...] = (RUNNING,)) -> tuple[Path, dict]:
    """An archive of one small wheel, and what its launcher was built with."""
    wheel = small_wheel(tmp_path)
    files = {wheel.name: wheel}
    targets = {f"{python}-{arch}": [wheel.name] for python in pythons for arch in build.ARCHES}
    manifest = build.manifest_of("9.9.9", targets, files)
    archive = tmp_path / "dist" / "dtdoctor-9.9.9.pyz"
    build.write_archive(archive, manifest, files)
    with zipfile.ZipFile(archive) as opened:
        return archive, build.build_info(manifest, opened.read("manifest.json"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "dtdoctor"


def temporary_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() caches its first answer
    return folder


def test_unpacks_once_into_a_private_cache(tmp_path, cache):
    archive, info = make_archive(tmp_path)
    unpacked = Path(boot.prepare(str(archive), info))
    assert unpacked.parent == cache and (unpacked / "probe_pkg" / "__init__.py").read_text() == "ANSWER = 42\n"
    assert oct(cache.stat().st_mode & 0o777) == "0o700" and oct(unpacked.stat().st_mode & 0o777) == "0o700"
    marker = unpacked / boot.COMPLETE
    before = marker.stat().st_mtime_ns
    assert boot.prepare(str(archive), info) == str(unpacked) and marker.stat().st_mtime_ns == before


def test_an_interrupted_unpack_is_done_again(tmp_path, cache):
    archive, info = make_archive(tmp_path)
    unpacked = Path(boot.prepare(str(archive), info))
    (unpacked / boot.COMPLETE).unlink()
    (unpacked / "probe_pkg" / "__init__.py").write_text("ANSWER = 'half'\n")
    assert boot.prepare(str(archive), info) == str(unpacked)
    assert (unpacked / "probe_pkg" / "__init__.py").read_text() == "ANSWER = 42\n"
    assert not [name for name in os.listdir(cache) if name.startswith(".unpack-")]


def test_a_damaged_wheel_is_refused(tmp_path, cache):
    archive, info = make_archive(tmp_path)
    with zipfile.ZipFile(archive) as opened:
        manifest = json.loads(opened.read("manifest.json"))
    wheel = tmp_path / next(iter(manifest["wheels"]))
    wheel.write_bytes(wheel.read_bytes() + b"tampered")  # still a zip, no longer the listed one
    build.write_archive(archive, manifest, {wheel.name: wheel})
    with pytest.raises(boot.Unusable, match="does not match its checksum"):
        boot.prepare(str(archive), info)
    assert not [path for path in cache.iterdir()], "nothing half-unpacked is left"


def test_a_manifest_other_than_the_launchers_is_refused(tmp_path, cache):
    archive, info = make_archive(tmp_path)
    with pytest.raises(boot.Unusable, match="manifest does not match"):
        boot.prepare(str(archive), {**info, "digest": hashlib.sha256(b"other").hexdigest()})


def test_a_truncated_archive_is_refused_in_one_line(tmp_path, cache):
    archive, info = make_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(boot.Unusable, match="is damaged"):
        boot.prepare(str(archive), info)


def test_a_later_run_does_not_open_the_archive(tmp_path, cache):
    archive, info = make_archive(tmp_path)
    unpacked = boot.prepare(str(archive), info)
    archive.write_bytes(b"")
    assert boot.prepare(str(archive), info) == unpacked


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a folder to another user")
def test_a_cache_folder_of_someone_else_is_never_used(tmp_path, cache, monkeypatch):
    cache.mkdir(parents=True, mode=0o700)
    os.chown(cache, 12345, 12345)
    temporary_folder(tmp_path, monkeypatch)
    archive, info = make_archive(tmp_path)
    unpacked = Path(boot.prepare(str(archive), info))
    assert unpacked.parent == tmp_path / "tmp" / f"dtdoctor-{os.geteuid()}"


def test_a_cache_folder_others_may_write_is_passed_over(tmp_path, cache, monkeypatch):
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    temporary_folder(tmp_path, monkeypatch)
    archive, info = make_archive(tmp_path)
    assert Path(boot.prepare(str(archive), info)).parent.parent == tmp_path / "tmp"


def test_a_parent_others_may_write_is_passed_over(tmp_path, cache, monkeypatch):
    cache.parent.mkdir(parents=True)
    cache.parent.chmod(0o777)  # another user could rename dtdoctor/ away and put their own in its place
    temporary_folder(tmp_path, monkeypatch)
    archive, info = make_archive(tmp_path)
    assert Path(boot.prepare(str(archive), info)).parent.parent == tmp_path / "tmp"


def test_a_symlink_in_place_of_the_cache_is_not_followed(tmp_path, cache, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    cache.parent.mkdir(parents=True)
    cache.symlink_to(elsewhere)
    temporary_folder(tmp_path, monkeypatch)
    archive, info = make_archive(tmp_path)
    assert Path(boot.prepare(str(archive), info)).parent.parent == tmp_path / "tmp"
    assert not list(elsewhere.iterdir())


def test_a_python_without_wheels_is_told_which_ones_have_them(tmp_path, cache):
    archive, info = make_archive(tmp_path, pythons=("3.1", "3.2"))
    with pytest.raises(boot.Unusable, match=r"Python 3\.1 to 3\.2 .*not for Python"):
        boot.prepare(str(archive), info)


def test_manylinux_tags_give_the_oldest_glibc_a_wheel_runs_on():
    psutil = "psutil-7.2.2-cp36-abi3-manylinux2010_x86_64.manylinux_2_12_x86_64.manylinux_2_28_x86_64.whl"
    assert build.wheel_glibc(psutil) == (2, 12)
    assert build.wheel_glibc("cryptography-43.0.3-cp39-abi3-manylinux_2_28_aarch64.whl") == (2, 28)
    assert build.wheel_glibc("cryptography-46.0.0-cp311-abi3-manylinux_2_34_x86_64.whl") == (2, 34)
    assert build.wheel_glibc("click-8.1.8-py3-none-any.whl") is None
    assert "manylinux_2_29_x86_64" not in build.platform_tags("x86_64")


def old_pythons() -> list[str]:
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [str(path / "bin" / "python") for path in sorted(versions.glob("[23].[0-8].*"))]
    return [path for path in found if os.access(path, os.X_OK)]


NO_OLD_PYTHON = pytest.param("", marks=pytest.mark.skip("no old Python installed"))


@pytest.mark.parametrize("python", old_pythons() or [NO_OLD_PYTHON])
def test_an_old_python_gets_one_line_and_exit_3(tmp_path, python):
    archive, _ = make_archive(tmp_path, pythons=("3.9", "3.10"))
    completed = subprocess.run([python, str(archive), "check"], capture_output=True, text=True, timeout=60,
                               env={"PATH": os.environ.get("PATH", "")})
    assert completed.returncode == 3 and completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.stderr
    assert completed.stderr.startswith("dtdoctor 9.9.9 needs Python 3.9 to 3.10, this is Python ")


def test_manifest_lists_every_wheel_with_its_checksum_and_the_launcher_its_digest(tmp_path):
    archive, info = make_archive(tmp_path)
    with zipfile.ZipFile(archive) as opened:
        raw = opened.read("manifest.json")
        for name, digest in json.loads(raw)["wheels"].items():
            assert hashlib.sha256(opened.read(f"wheels/{name}")).hexdigest() == digest
        launcher = opened.read("__main__.py").decode()
    assert info["digest"] == hashlib.sha256(raw).hexdigest() and f"DIGEST = {info['digest']!r}" in launcher
    assert archive.read_bytes().startswith(b"#!/usr/bin/env python3\n")


def test_a_cache_reached_through_a_symlink_is_judged_by_where_it_leads(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # others may write where the link leads
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".cache").symlink_to(shared)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    temporary_folder(tmp_path, monkeypatch)
    archive, info = make_archive(tmp_path)
    assert Path(boot.prepare(str(archive), info)).parent.parent == tmp_path / "tmp"


def test_an_empty_home_never_makes_a_cache_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("HOME", "")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    temporary_folder(tmp_path, monkeypatch)
    archive, info = make_archive(tmp_path)
    assert Path(boot.prepare(str(archive), info)).parent.parent == tmp_path / "tmp"
    assert not list(work.iterdir())


INTERRUPTED_UNPACK = """
import runpy, sys
def interrupt(event, args):  # Ctrl-C arriving while a wheel's file is written
    if event == "open" and str(args[0]).endswith("__init__.py") and "unpack" in str(args[0]):
        raise KeyboardInterrupt
sys.addaudithook(interrupt)
sys.argv = [sys.argv[1], "--version"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_an_unpack_interrupted_by_ctrl_c_ends_in_one_line_and_exit_3(tmp_path, cache):
    archive, _ = make_archive(tmp_path)
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_UNPACK, str(archive)], capture_output=True, text=True,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}, check=False)
    assert (done.returncode, done.stderr) == (3, "dtdoctor: interrupted\n")
    assert os.listdir(cache) == []  # the half-unpacked folder is gone


TERMINATED_RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
import _dtdoctor_boot
print(_dtdoctor_boot.fresh_temporary(), flush=True)
time.sleep(60)
"""


def test_a_fresh_temporary_folder_goes_when_the_run_is_terminated(tmp_path, monkeypatch):
    """No cache folder usable: the folder made for this run is removed on SIGTERM, which still ends the process."""
    import signal

    scratch = temporary_folder(tmp_path, monkeypatch)
    with subprocess.Popen([sys.executable, "-c", TERMINATED_RUN, str(ROOT / "scripts" / "pyzboot")],
                          stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(scratch)}) as process:
        assert process.stdout is not None
        folder = Path(process.stdout.readline().strip())
        assert folder.parent == scratch and folder.is_dir()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == -signal.SIGTERM
    assert not folder.exists()
