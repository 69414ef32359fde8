"""End to end for x86_64 musl: noopt and noopt+static built here (musl from source first),
validated, and run with the musl of the build, or as the one static executable (slow, opt-in:
./run-tests --musl; the libraries are cached after a first run)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from builds import build_noopt_full, run_shown, unpack_full

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
    result, elapsed = run_shown(
        sys.executable, "-m", "pythonbuild", "test-dist", musl_full, "--regrtest",
        "--tests", *REGRTEST_MODULES, "--output", tmp_path,
    )  # fmt: skip
    print(f"test-dist with musl: {elapsed:.0f}s")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "private mount namespace" in result.stdout
    assert (loader.exists() or loader.is_symlink()) == had_loader  # nothing left on this machine
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.search(r": (\d+) passed, 0 failed", summary)
    assert passed and int(passed.group(1)) > 0, summary


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
    result, elapsed = run_shown(
        sys.executable, "-m", "pythonbuild", "test-dist", static_full, "--regrtest",
        "--tests", *REGRTEST_MODULES, "--output", tmp_path,
    )  # fmt: skip
    print(f"test-dist of +static: {elapsed:.0f}s")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "private mount namespace" not in result.stdout  # it runs as it is
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.search(r": (\d+) passed, 0 failed", summary)
    assert passed and int(passed.group(1)) > 0, summary
