"""The installers people use install our archives unchanged: uv, pbs-installer (pdm's), hatch.

Slow (needs the end-to-end build, see conftest.py). The archives are served over HTTP from
127.0.0.1, as a release would be; uv finds them through the downloads JSON that
``python -m pythonbuild release`` writes, hatch through its custom-source variables. Every
check asks the installed interpreter what a user would: ``sys.prefix``,
``sysconfig.get_paths()``, and the import of a C extension built from source against it.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
# A package whose C extension is required (no pure-Python fallback to hide a failed build).
C_EXTENSION_PACKAGE = "psutil==7.2.2"

REPORT = """
import json, sys, sysconfig
print(json.dumps({
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "paths": sysconfig.get_paths(),
    "LIBDIR": sysconfig.get_config_var("LIBDIR"),
    "INCLUDEPY": sysconfig.get_config_var("INCLUDEPY"),
    "BINDIR": sysconfig.get_config_var("BINDIR"),
    "LIBPC": sysconfig.get_config_var("LIBPC"),
}))
"""


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, (
        f"{command} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def report(python: Path) -> dict:
    return json.loads(_run([str(python), "-c", REPORT], env={"PATH": "/usr/bin:/bin"}).stdout)


def assert_reports_its_location(python: Path, home: Path) -> None:
    """The interpreter at ``home/bin`` names ``home`` for every path a build tool asks for."""
    seen = report(python)
    home = Path(os.path.abspath(home))
    assert Path(seen["prefix"]) == home
    for name in ("stdlib", "platstdlib", "purelib", "platlib", "include", "scripts", "data"):
        assert Path(seen["paths"][name]).is_relative_to(home), (name, seen["paths"][name])
    assert Path(seen["paths"]["include"], "Python.h").is_file()
    # The variables may name the real directory where the prefix is a symlink to it (uv installs
    # into cpython-3.13.15-... and runs it through the symlink cpython-3.13-...).
    real = home.resolve()
    assert Path(seen["LIBDIR"]).resolve() == real / "lib"
    assert Path(seen["INCLUDEPY"]).resolve() == Path(seen["paths"]["include"]).resolve()
    assert Path(seen["BINDIR"]).resolve() == real / "bin"
    assert Path(seen["LIBPC"]).resolve() == real / "lib" / "pkgconfig"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture(scope="module")
def release(build, tmp_path_factory) -> Iterator[dict]:
    """``release`` run on the build's dist directory, served at http://127.0.0.1:<port>/."""
    out = tmp_path_factory.mktemp("release") / "out"
    handler = functools.partial(_QuietHandler, directory=str(out.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base_url = f"http://127.0.0.1:{server.server_address[1]}/out"
    _run(
        [
            sys.executable, "-m", "pythonbuild", "release", str(build["dist"]),
            "--out", str(out), "--base-url", base_url,
        ],
        cwd=ROOT,
    )  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"out": out, "url": base_url, "downloads": f"{base_url}/download-metadata.json"}
    finally:
        server.shutdown()
        server.server_close()


def uv_environment(tmp: Path) -> dict[str, str]:
    """uv with everything in ``tmp``: no user configuration, cache or installed Pythons."""
    return {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(tmp / "home"),
        "UV_CACHE_DIR": str(tmp / "uv-cache"),
        "UV_PYTHON_INSTALL_DIR": str(tmp / "uv-pythons"),
        "UV_PYTHON_BIN_DIR": str(tmp / "uv-bin"),
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_PREFERENCE": "only-managed",
        # The index is reached with the certificates the machine trusts (which may include a
        # proxy's), as pip does, not only uv's built-in roots.
        "UV_SYSTEM_CERTS": "1",
    }


@pytest.fixture(scope="module")
def uv_python(release, tmp_path_factory) -> dict:
    """``uv python install`` from the release's downloads JSON; the installed interpreter."""
    tmp = tmp_path_factory.mktemp("uv")
    env = uv_environment(tmp)
    env["UV_PYTHON_DOWNLOADS_JSON_URL"] = release["downloads"]
    _run([str(BIN / "uv"), "python", "install", PYTHON], env=env)
    found = _run([str(BIN / "uv"), "python", "find", PYTHON], env=env).stdout.strip()
    python = Path(found)
    return {"env": env, "python": python, "home": python.parent.parent, "tmp": tmp}


def test_uv_installs_the_release_and_the_interpreter_names_its_location(uv_python):
    home = uv_python["home"]
    assert home.is_relative_to(uv_python["tmp"] / "uv-pythons")
    assert_reports_its_location(uv_python["python"], home)
    # uv rewrote the sysconfig data as plain values under its own directory (and marks it).
    (data,) = (home / "lib" / f"python{PYTHON}").glob("_sysconfigdata_*.py")
    text = data.read_text()
    assert f"{home.resolve()}/lib" in text and "PYTHON_BUILD_STANDALONE" in text


def test_uv_venv_builds_and_imports_a_c_extension_from_source(uv_python):
    env, venv = uv_python["env"], uv_python["tmp"] / "venv"
    uv = str(BIN / "uv")
    _run([uv, "venv", "--python", str(uv_python["python"]), str(venv)], env=env)
    python = venv / "bin" / "python"
    _run(
        [uv, "pip", "install", "--python", str(python), "--no-binary", "psutil",
         C_EXTENSION_PACKAGE],
        env=env,
    )  # fmt: skip
    code = (
        "import sys, sysconfig, psutil, psutil._psutil_linux as ext; "
        "print(sys.prefix); print(sys.base_prefix); print(ext.__file__); "
        "print(sysconfig.get_paths()['platlib']); print(psutil.cpu_count() > 0)"
    )
    prefix, base, extension, platlib, works = _run([str(python), "-c", code]).stdout.split("\n")[:5]
    assert Path(prefix) == venv
    assert Path(base) == uv_python["home"]
    assert Path(extension).parent.parent == Path(platlib)
    assert Path(platlib).is_relative_to(venv)
    assert extension.endswith(".abi3.so") or f"cpython-{PYTHON.replace('.', '')}" in extension
    assert works == "True"


def test_pbs_installer_unpacks_the_archive_and_it_runs_where_it_lands(build, tmp_path):
    from pbs_installer import install_file

    home = tmp_path / "pdm pythons" / f"cpython@{PYTHON}"
    install_file(str(build["install_only"]), str(home))
    assert_reports_its_location(home / "bin" / "python3", home)
    venv = tmp_path / "venv"
    _run([str(home / "bin" / "python3"), "-m", "venv", str(venv)])
    assert report(venv / "bin" / "python")["prefix"] == str(venv)


def test_hatch_installs_from_a_custom_source(build, release, tmp_path):
    version = build["install_only"].name.removeprefix("cpython-").split("+", 1)[0]
    name = PYTHON.replace(".", "_")
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        f"HATCH_PYTHON_CUSTOM_SOURCE_{name}": f"{release['url']}/{build['install_only'].name}",
        f"HATCH_PYTHON_CUSTOM_PATH_{name}": "python/bin/python3",
        f"HATCH_PYTHON_CUSTOM_VERSION_{name}": version,
    }
    pythons = tmp_path / "hatch pythons"
    _run(
        [str(BIN / "hatch"), "python", "install", "--private", "-d", str(pythons), PYTHON], env=env
    )
    home = pythons / PYTHON / "python"
    assert_reports_its_location(home / "bin" / "python3", home)


def test_the_archive_moved_after_unpacking_still_names_its_location(build, tmp_path):
    from pythonbuild.distribution.archive import extract_archive

    extract_archive(build["install_only"], tmp_path / "first")
    moved = tmp_path / "elsewhere" / "py"
    moved.parent.mkdir()
    shutil.move(tmp_path / "first" / "python", moved)
    assert_reports_its_location(moved / "bin" / "python3", moved)
