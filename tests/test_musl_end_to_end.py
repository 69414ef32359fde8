"""End to end for x86_64 musl: noopt and noopt+static built here (musl from source first),
validated, and run with the musl of the build, or as the one static executable (slow, opt-in:
./run-tests --musl; the libraries are cached after a first run)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from builds import build_noopt_full, passing_test_dist, run_shown, unpack_full

from pythonbuild.distribution.elf import read_elf, read_interpreter, scan_tree

TARGET = os.environ.get("STANDALONE_PYTHON_E2E_MUSL_TARGET", "x86_64-unknown-linux-musl")
# Modules that lean on the C library: its math, locale-free text handling, threads and
# processes, sockets and name lookup, time zones, and ctypes calling into libc.
REGRTEST_MODULES = [
    "test_ctypes", "test_struct", "test_math", "test_os", "test_posix", "test_threading",
    "test_subprocess", "test_socket", "test_time", "test_ssl", "test_sqlite3", "test_zlib",
]  # fmt: skip

pytestmark = [pytest.mark.slow, pytest.mark.musl]


@pytest.fixture(scope="module")
def musl_full(tmp_path_factory) -> Path:
    return build_noopt_full(TARGET, tmp_path_factory.mktemp("musl-dist"))


def test_every_elf_file_needs_only_musl(musl_full, tmp_path):
    metadata, install = unpack_full(musl_full, tmp_path)
    assert metadata["target_triple"] == TARGET
    assert metadata["crt_features"] == ["musl-dynamic", "musl-version:1.2.3"]
    infos = scan_tree(install)
    assert infos and not any(info.glibc_versions for info in infos)
    for info in infos:
        assert set(info.needed) <= {"libc.so", "libpython3.13.so.1.0"}, (info.path, info.needed)
    python = install / "bin" / "python3.13"
    assert read_interpreter(python) == "/lib/ld-musl-x86_64.so.1"
    assert "libc.so" in read_elf(python).needed
    assert (tmp_path / "python" / "licenses" / "LICENSE.musl.txt").is_file()


def test_validate_passes(musl_full):
    result, _ = run_shown(sys.executable, "-m", "pythonbuild", "validate", musl_full)
    assert result.returncode == 0, result.stdout[-3000:]


def test_smoke_and_a_regrtest_subset_pass_with_the_built_musl(musl_full, tmp_path):
    loader = Path("/lib/ld-musl-x86_64.so.1")
    had_loader = loader.exists() or loader.is_symlink()
    out = passing_test_dist(
        musl_full, tmp_path, "--regrtest", "--tests", *REGRTEST_MODULES, what="with musl"
    )
    assert "private mount namespace" in out
    assert (loader.exists() or loader.is_symlink()) == had_loader  # nothing left on this machine


@pytest.fixture(scope="module")
def static_full(tmp_path_factory) -> Path:
    return build_noopt_full(TARGET, tmp_path_factory.mktemp("static-dist"), "noopt+static")


def test_static_is_one_executable_with_musl_inside(static_full, tmp_path):
    metadata, install = unpack_full(static_full, tmp_path)
    assert metadata["build_options"] == "noopt+static"
    assert metadata["crt_features"] == ["static", "musl-version:1.2.6"]
    assert metadata["python_extension_module_loading"] == ["builtin"]
    assert metadata["libpython_link_mode"] == "static"
    # The executable and nothing loadable beside it (python.o in the config directory is an
    # object file for embedders, not loaded).
    loaded = [i for i in scan_tree(install) if i.elf_type in ("ET_EXEC", "ET_DYN")]
    assert [info.path.name for info in loaded] == ["python3.13"]
    assert loaded[0].needed == [] and loaded[0].interpreter is None
    assert not list(install.glob("lib/libpython*.so*"))
    assert (tmp_path / "python" / "licenses" / "LICENSE.musl.txt").is_file()


def test_static_validates_and_passes_its_tests_without_any_loader(static_full, tmp_path):
    result, _ = run_shown(sys.executable, "-m", "pythonbuild", "validate", static_full)
    assert result.returncode == 0, result.stdout[-3000:]
    out = passing_test_dist(
        static_full, tmp_path, "--regrtest", "--tests", *REGRTEST_MODULES, what="+static"
    )
    assert "private mount namespace" not in out  # it runs as it is


def _smoke_in(archive: Path, output: Path, *systems: str) -> str:
    args = [a for system in systems for a in ("--in-container", system)]
    return passing_test_dist(archive, output, *args, what=f"smoke in {', '.join(systems)}")


def _smoke_cases(output: Path) -> dict[str, tuple[str, str]]:
    """test-dist's JUnit file: ``suite.check`` -> (outcome, message)."""
    import xml.etree.ElementTree as ET

    cases = {}
    for case in ET.parse(output / "junit.xml").getroot().iter("testcase"):
        outcome = next((c.tag for c in case if c.tag in ("failure", "skipped")), "passed")
        message = next((c.get("message", "") for c in case), "")
        cases[f"{case.get('classname')}.{case.get('name')}"] = (outcome, message)
    return cases


def test_both_flavors_run_in_systems_without_glibc(musl_full, static_full, tmp_path):
    """A root with musl (the floor's, then the newest), busybox, CA certificates and terminal
    descriptions and no glibc file; +static also in an empty scratch container. curses and
    readline work there; with no tz database, zoneinfo says so clearly."""
    _smoke_in(musl_full, tmp_path / "dynamic", "musl", "musl-newest")
    _smoke_in(static_full, tmp_path / "static", "musl", "scratch")
    cases = _smoke_cases(tmp_path / "dynamic")
    curses = [v for k, v in cases.items() if k.endswith(".readline_and_curses")]
    assert len(curses) == 2 and all(outcome == "passed" for outcome, _ in curses), curses
    # (the check itself asserts the clear error where the system has no tz database)
    zones = [v for k, v in cases.items() if k.endswith(".zoneinfo")]
    assert len(zones) == 2 and all(outcome == "passed" for outcome, _ in zones), zones


EXTENSION_C = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *twice(PyObject *self, PyObject *arg) { return PyLong_FromLong(2 * PyLong_AsLong(arg)); }
static PyMethodDef methods[] = {{"twice", twice, METH_O, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "spdemo", NULL, -1, methods};
PyMODINIT_FUNC PyInit_spdemo(void) { return PyModule_Create(&module); }
"""
# Compile as setuptools does with CC set: the distribution's sysconfig flags, the user's compiler.
BUILD_EXTENSION = """
import os, shlex, shutil, subprocess, sys, sysconfig
v = sysconfig.get_config_var
cc = [os.environ["CC"]]
obj, out = "/work/spdemo.o", "/work/spdemo" + v("EXT_SUFFIX")
subprocess.run(cc + shlex.split(v("CFLAGS")) + shlex.split(v("CCSHARED"))
               + ["-I" + sysconfig.get_path("include"), "-c", "/work/spdemo.c", "-o", obj], check=True)
subprocess.run(cc + shlex.split(v("LDSHARED"))[1:] + [obj, "-o", out], check=True)
sys.path.insert(0, "/work")
import spdemo
assert spdemo.twice(21) == 42
open("/out/result.txt", "w").write(out + " " + str(spdemo.twice(21)))
shutil.copy(out, "/out/")
"""


def test_a_c_extension_built_with_a_musl_compiler_imports(musl_full, tmp_path):
    """The build image's compiler driver for the target (clang with the musl tree as sysroot),
    given the distribution's own sysconfig flags, makes an extension its python imports."""
    import tarfile

    from pythonbuild.linux.containers import ContainerRun, run_in_container
    from pythonbuild.linux.engine import connect
    from pythonbuild.linux.images.build import planned_build_image
    from pythonbuild.paths import default_cache_dir
    from pythonbuild.targets import get_target
    from pythonbuild.testdist.musl_runtime import musl_artifact

    target = get_target(TARGET)
    _, install = unpack_full(musl_full, tmp_path / "dist")
    install_tar = tmp_path / "install.tar"
    with tarfile.open(install_tar, "w") as tar:
        tar.add(install, arcname="opt/python")
    run = ContainerRun(
        image=planned_build_image(target).tag,
        command=["/opt/python/bin/python3", "/work/build.py"],
        env={"CC": "target-clang", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        files={"/work/spdemo.c": EXTENSION_C.encode(), "/work/build.py": BUILD_EXTENSION.encode(),
               "/out/.keep": b""},
        tarballs=[musl_artifact(target, "musl", default_cache_dir()), install_tar],
    )  # fmt: skip
    engine = connect()
    try:
        run_in_container(engine, run, tmp_path / "extension.log", "C extension", tmp_path / "o.tar")
    finally:
        engine.close()
    with tarfile.open(tmp_path / "o.tar") as tar:
        tar.extractall(tmp_path / "o", filter="data")
    built, answer = (tmp_path / "o" / "out" / "result.txt").read_text().split()
    assert answer == "42" and built.endswith(".cpython-313-x86_64-linux-musl.so")
    module = read_elf(tmp_path / "o" / "out" / Path(built).name)
    assert module.needed in ([], ["libc.so"]) and not module.glibc_versions, module.needed


def _musl_uv(tmp_path: Path) -> Path:
    """uv's musllinux x86_64 build (a static musl program), the version and hashes that
    requirements-dev.txt pins, from PyPI."""
    import zipfile

    from builds import ROOT

    lines = (ROOT / "requirements-dev.txt").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("uv=="))
    pinned = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("    --hash="):
            break
        pinned.append(line)
    requirements = tmp_path / "uv-requirements.txt"
    requirements.write_text("\n".join(pinned).rstrip(" \\") + "\n")
    wheels = tmp_path / "wheels"
    result, _ = run_shown(
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--platform", "musllinux_1_1_x86_64", "--require-hashes", "-r", requirements,
        "-d", wheels,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = next(wheels.glob("uv-*musllinux*_x86_64.whl"))
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/scripts/uv"))
        uv = tmp_path / "uv"
        uv.write_bytes(archive.read(name))
    uv.chmod(0o755)
    return uv


def _run_in_musl_root(
    tmp_path: Path, script: str, env: dict[str, str], files: dict, tarballs: list[Path], name: str
) -> str:
    """``script`` under /bin/sh in the musl root of the floor's musl; returns /out/NAME.txt
    (the container's log is tmp_path/NAME.log)."""
    import tarfile

    from pythonbuild.linux.containers import ContainerRun, run_in_container
    from pythonbuild.linux.engine import connect
    from pythonbuild.options import parse_options
    from pythonbuild.targets import get_target
    from pythonbuild.testdist.musl_root import ensure_musl_root_image, musl_root_for

    target = get_target(TARGET)
    engine = connect()
    try:
        root = musl_root_for("musl", target, parse_options("noopt"))
        image = ensure_musl_root_image(engine, root, target, tmp_path, tmp_path / "logs")
        run = ContainerRun(
            image=image,
            command=["/bin/sh", "-c", script],
            env={"PATH": "/usr/bin:/bin", "HOME": "/root", **env},
            files={"/out/.keep": b"", **files},
            tarballs=tarballs,
        )
        run_in_container(engine, run, tmp_path / f"{name}.log", f"{name} in the musl root",
                         tmp_path / f"{name}.tar")  # fmt: skip
    finally:
        engine.close()
    with tarfile.open(tmp_path / f"{name}.tar") as tar:
        member = tar.extractfile(f"out/{name}.txt")
        return member.read().decode() if member else ""


def test_uv_on_a_musl_system_installs_and_runs_the_musl_release(musl_full, tmp_path):
    """uv (its own musl build) in the musl root picks the release's libc-musl entry, checks its
    sha256, unpacks it and runs it."""
    import tarfile

    out = tmp_path / "release"
    result, _ = run_shown(sys.executable, "-m", "pythonbuild", "release", musl_full.parent,
                          "--out", out)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    keys = set(json.loads((out / "download-metadata.json").read_text()))
    assert keys == {"cpython-3.13.15-linux-x86_64-musl"}, keys
    release_tar = tmp_path / "release.tar"
    with tarfile.open(release_tar, "w") as tar:  # at the same path: the index has file:// URLs
        tar.add(out, arcname=str(out).lstrip("/"))
        tar.add(_musl_uv(tmp_path), arcname="usr/bin/uv")
    script = (
        "set -e\n"
        f"uv python install 3.13 --python-downloads-json-url {out / 'download-metadata.json'}\n"
        'python="$(uv python find 3.13)"\n'
        '"$python" -c "import ssl, sqlite3, sys; print(sys.version)" > /out/uv.txt\n'
        'echo "$python" >> /out/uv.txt\n'
    )
    env = {"UV_NO_CONFIG": "1", "UV_CACHE_DIR": "/tmp/uv-cache",
           "UV_PYTHON_INSTALL_DIR": "/tmp/uv-pythons"}  # fmt: skip
    ran = _run_in_musl_root(tmp_path, script, env, {}, [release_tar], "uv")
    uv_log = (tmp_path / "uv.log").read_text()
    print(uv_log[-2000:], ran)
    assert "Installed Python 3.13.15" in uv_log and "cpython-3.13.15-linux-x86_64-musl" in uv_log
    assert ran.startswith("3.13.15") and "-linux-x86_64-musl/bin/python" in ran, ran


def test_bench_runs_a_musl_distribution_and_its_allocator_settings(musl_full, tmp_path):
    """bench runs the musl dist (in the namespace test-dist uses) twice, once with mimalloc
    (--env; that pyperf's workers are told to keep it is a unit test in test_bench)."""
    output = tmp_path / "bench"
    result, _ = run_shown(
        sys.executable, "-m", "pythonbuild", "bench", "--fast", "--benchmarks", "nbody",
        "--dist", f"musl={musl_full}", "--dist", f"musl-mimalloc={musl_full}",
        "--env", "musl-mimalloc=PYTHONMALLOC=mimalloc", "--output", output,
        "--work-dir", tmp_path / "work",
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "private mount namespace" in out
    document = json.loads((output / "bench.json").read_text())
    described = {i["label"]: i for i in document["interpreters"]}
    assert described["musl-mimalloc"]["environ"] == {"PYTHONMALLOC": "mimalloc"}
    assert described["musl"]["runs_in_namespace"] is True
    for label in ("musl", "musl-mimalloc"):
        raw = json.loads((output / "raw" / label / "nbody.json").read_text())
        assert raw["benchmarks"], label


PIP_IN_ROOT = """set -e
/opt/python/bin/python3 -m venv /tmp/venv
py=/tmp/venv/bin/python
$py -c "import zoneinfo
try:
    zoneinfo.ZoneInfo('Europe/Berlin')
except zoneinfo.ZoneInfoNotFoundError as exc:
    print('before:', exc)" > /out/pip.txt
$py -m pip install --disable-pip-version-check --only-binary=:all: markupsafe tzdata
cat /tmp/venv/lib/python3.13/site-packages/markupsafe-*.dist-info/WHEEL >> /out/pip.txt
$py -c "import datetime, markupsafe._speedups, zoneinfo
z = zoneinfo.ZoneInfo('Europe/Berlin')
print('after:', datetime.datetime(2026, 7, 1, tzinfo=z).utcoffset(), markupsafe.escape('<a>'))" \\
    >> /out/pip.txt
"""


def test_pip_takes_musllinux_wheels_and_tzdata_in_the_musl_root(musl_full, tmp_path):
    """In the musl root (no glibc, no tz database): a venv, pip taking markupsafe's musllinux
    wheel from PyPI (its C extension loads) and the tzdata package, after which zoneinfo finds
    Europe/Berlin. This machine's CA bundle goes in as pip's: the network here may need it."""
    import tarfile

    _, install = unpack_full(musl_full, tmp_path / "dist")
    install_tar = tmp_path / "install.tar"
    with tarfile.open(install_tar, "w") as tar:
        tar.add(install, arcname="opt/python")
    host_bundle = Path("/etc/ssl/certs/ca-certificates.crt").read_bytes()
    result = _run_in_musl_root(
        tmp_path, PIP_IN_ROOT, {"PIP_CERT": "/tmp/host-ca.pem"},
        {"/tmp/host-ca.pem": host_bundle}, [install_tar], "pip",
    )  # fmt: skip
    print((tmp_path / "pip.log").read_text()[-2000:], result)
    assert "before: 'No time zone found with key Europe/Berlin'" in result, result
    assert "Tag: cp313-cp313-musllinux_1_2_x86_64" in result, result
    assert "manylinux" not in result
    assert "after: 2:00:00 &lt;a&gt;" in result, result


def test_the_regrtest_subset_passes_in_the_musl_root(musl_full, tmp_path):
    """The regression-suite subset inside the musl root: no glibc, busybox's shell and tools."""
    out = passing_test_dist(
        musl_full, tmp_path, "--in-container", "musl", "--regrtest", "--tests", *REGRTEST_MODULES,
        what="regrtest in the musl root",
    )  # fmt: skip
    assert "regression suite in a musl container" in out
    cases = _smoke_cases(tmp_path)
    ran = [name for name in cases if name.startswith("regrtest-musl.")]
    assert len(ran) > 1000, len(ran)
