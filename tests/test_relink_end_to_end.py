"""Relinking the end-to-end build's full archive: the interpreter again, one without the modules
that bundle Tcl/Tk/X11, SQLite and OpenSSL's libssl, a C program of one's own that embeds
Python, and a frozen app; and the interpreter of an lto archive, whose objects are LLVM bitcode
(its own x86_64 lto build: the libraries are the noopt build's, only CPython is built again).
Each relinked executable is placed in the archive's installation and run there.
STANDALONE_PYTHON_E2E_LTO_DIST=DIR uses an lto archive already in DIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from builds import build_noopt_full, run_shown, smoke_failures, unpack_full
from elftools.elf.elffile import ELFFile

pytestmark = pytest.mark.slow
LTO_TARGET = "x86_64-unknown-linux-gnu"

EMBEDDING_MAIN = r"""
#include "Python.h"

/* Runs the code given as argv[1] and exits with the value it leaves in `status`. */
int main(int argc, char **argv) {
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    PyStatus status = PyConfig_SetBytesArgv(&config, argc, argv);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) Py_ExitStatusException(status);
    if (argc < 2 || PyRun_SimpleString(argv[1]) != 0) return 100;
    PyObject *main_module = PyImport_AddModule("__main__");
    long result = PyLong_AsLong(PyObject_GetAttrString(main_module, "status"));
    if (Py_FinalizeEx() < 0) return 101;
    return (int)result;
}
"""


def relink(archive: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    result, elapsed = run_shown(
        sys.executable, "-m", "pythonbuild", "relink", archive, "--out", out, *args
    )
    size = out.stat().st_size / 1e6 if out.exists() else 0
    print(f"relink {' '.join(args) or '(default)'}: {elapsed:.1f}s, {size:.1f} MB")
    return result


@pytest.fixture(scope="module")
def installed(build, tmp_path_factory) -> tuple[dict, Path]:
    # Below a directory with a space: one of the smoke checks runs from such a path.
    return unpack_full(build["full"], tmp_path_factory.mktemp("relink") / "relink dir")


@pytest.fixture(scope="module")
def lto_full(tmp_path_factory) -> Path:
    existing = os.environ.get("STANDALONE_PYTHON_E2E_LTO_DIST")
    if existing:
        return next(Path(existing).glob(f"cpython-3.13.*-{LTO_TARGET}-lto-full.tar.zst"))
    return build_noopt_full(LTO_TARGET, tmp_path_factory.mktemp("lto-dist"), options="lto")


def defined_symbols(path: Path) -> set[str]:
    with path.open("rb") as handle:
        symtab = ELFFile(handle).get_section_by_name(".symtab")
        return {s.name for s in symtab.iter_symbols() if s["st_shndx"] != "SHN_UNDEF"}


def test_the_relinked_interpreter_passes_the_smoke_checks(build, installed, tmp_path) -> None:
    _, install = installed
    python = install / "bin" / "python3-relinked"
    assert relink(build["full"], python).returncode == 0
    original = install / "bin" / "python3"
    print(f"bin/python3: {original.resolve().stat().st_size / 1e6:.1f} MB")
    names = "import sys; print(sorted(sys.builtin_module_names))"
    assert subprocess.run([python, "-c", names], capture_output=True, text=True).stdout == (
        subprocess.run([original, "-c", names], capture_output=True, text=True).stdout
    )
    failed = smoke_failures(python, install.parent / "PYTHON.json", tmp_path)
    assert not failed, (tmp_path / "smoke.log").read_text()[-4000:]


def test_leaving_out_tk_sqlite_and_ssl_links_none_of_their_code(build, installed) -> None:
    _, install = installed
    python = install / "bin" / "python3-small"
    excluded = ("_tkinter", "_sqlite3", "_ssl")
    args = [arg for name in excluded for arg in ("--exclude-extension", name)]
    assert relink(build["full"], python, *args).returncode == 0
    symbols = defined_symbols(python)
    for symbol in ("Tcl_CreateInterp", "Tk_Init", "XOpenDisplay", "sqlite3_open", "SSL_new"):
        assert symbol not in symbols, symbol
    assert "EVP_DigestInit" in symbols  # _hashlib still links libcrypto
    for module in ("ssl", "sqlite3", "tkinter"):
        run = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True)
        assert run.returncode == 1 and "ModuleNotFoundError" in run.stderr, run.stderr
    ok = subprocess.run([python, "-c", "import hashlib, json; print(hashlib.sha256(b'').hexdigest()[:8])"],
                        capture_output=True, text=True)  # fmt: skip
    assert ok.stdout.strip() == "e3b0c442", ok.stderr


def test_a_program_of_ones_own_embeds_python(build, installed, tmp_path) -> None:
    _, install = installed
    main_c = tmp_path / "embed.c"
    main_c.write_text(EMBEDDING_MAIN)
    program = install / "bin" / "embedded"
    assert relink(build["full"], program, "--main", str(main_c)).returncode == 0
    code = "import json, decimal; status = len(json.dumps({'a': str(decimal.Decimal(1) / 8)}))"
    run = subprocess.run([program, code], capture_output=True, text=True)
    assert run.returncode == len('{"a": "0.125"}'), run.stderr


APP_MAIN = """\
import json, sqlite3, sys
from . import NAME
print(json.dumps({"app": NAME, "args": sys.argv[1:], "stdlib": json.__file__}))
sys.exit(len(sys.argv) - 1)
"""


def test_a_frozen_app_runs_with_the_standard_library_beside_it(build, installed, tmp_path) -> None:
    _, install = installed
    package = tmp_path / "hello_app"
    package.mkdir()
    (package / "__init__.py").write_text("NAME = 'hello'\n")
    (package / "__main__.py").write_text(APP_MAIN)
    program = install / "bin" / "hello-app"
    assert relink(build["full"], program, "--frozen-app", str(package)).returncode == 0
    # Run from elsewhere, with arguments that are the interpreter's options for bin/python3.
    run = subprocess.run([program, "-c", "x y"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    said = json.loads(run.stdout)
    assert said["app"] == "hello" and said["args"] == ["-c", "x y"]
    assert Path(said["stdlib"]).is_relative_to(install / "lib"), said


def test_bad_input_is_one_line_and_exit_2(build, installed, tmp_path) -> None:
    out = tmp_path / "python"
    unknown = relink(build["full"], out, "--exclude-extension", "_nosuch")
    assert unknown.returncode == 2 and "unknown extension module '_nosuch'" in unknown.stderr
    install_only = build["install_only"]
    wrong = relink(install_only, out)
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1, wrong.stderr
    assert not out.exists()


def test_an_lto_archive_relinks_with_the_llvm_that_wrote_its_bitcode(lto_full, tmp_path) -> None:
    metadata, install = unpack_full(lto_full, tmp_path / "lto relink")
    assert metadata["build_info"]["object_file_format"].startswith("llvm-bitcode:")
    python = install / "bin" / "python3-relinked"
    assert relink(lto_full, python).returncode == 0
    print(f"lto bin/python3.13: {(install / 'bin' / 'python3.13').stat().st_size / 1e6:.1f} MB")
    failed = smoke_failures(python, install.parent / "PYTHON.json", tmp_path)
    assert not failed, (tmp_path / "smoke.log").read_text()[-4000:]
