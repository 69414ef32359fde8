"""End to end for a target of another CPU: aarch64 noopt cross-built here, validated, and run
under qemu-user (slow, opt-in: ./run-tests --cross; the libraries are cached after a first run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from builds import build_noopt_full, passing_test_dist, run_shown, smoke_failures, unpack_full

from pythonbuild.distribution.elf import read_elf, scan_tree
from pythonbuild.options import parse_options
from pythonbuild.paths import default_cache_dir
from pythonbuild.targets import get_target
from pythonbuild.testdist.emulated import emulation_for

TARGET = os.environ.get("STANDALONE_PYTHON_E2E_CROSS_TARGET", "aarch64-unknown-linux-gnu")
# A few regression-suite modules that exercise the ABI (ctypes/libffi, struct), the bundled
# OpenSSL's assembly, the target's libc, and child processes started with environments of their
# own, ptys and spawn file actions (os, posix: about 40 s under qemu); test-dist's default
# subset is larger.
REGRTEST_MODULES = [
    "test_ctypes", "test_struct", "test_hashlib", "test_math", "test_zlib", "test_os", "test_posix",
]  # fmt: skip

pytestmark = [pytest.mark.slow, pytest.mark.cross]


@pytest.fixture(scope="module")
def cross_full(tmp_path_factory) -> Path:
    return build_noopt_full(TARGET, tmp_path_factory.mktemp("cross-dist"))


def test_every_elf_file_is_for_the_target_and_needs_only_its_libc(cross_full, tmp_path):
    metadata, install = unpack_full(cross_full, tmp_path)
    assert metadata["target_triple"] == TARGET
    infos = scan_tree(install)
    assert infos and {(i.machine, i.elfclass) for i in infos} == {("EM_AARCH64", 64)}
    python = read_elf(install / "bin" / "python3.13")
    assert "ld-linux-aarch64.so.1" in python.needed
    newest = max(tuple(map(int, v.split("."))) for v in python.glibc_versions)
    assert newest <= (2, 31), newest


def test_validate_passes(cross_full):
    result, _ = run_shown(sys.executable, "-m", "pythonbuild", "validate", cross_full)
    assert result.returncode == 0, result.stdout[-3000:]


def _target_files_outside_the_cache() -> set[Path]:
    """Paths where this machine would hold the target's loader or libraries: test-dist must
    neither need them nor make them."""
    target = get_target(TARGET)
    multiarch = target.gnu_triple
    paths = [Path("/lib") / target.needed_libraries[0], Path("/etc/qemu-binfmt")]
    paths += [Path(d) / multiarch for d in ("/lib", "/usr/lib", "/lib64")]
    return {p for p in paths if p.exists() or p.is_symlink()}


def test_smoke_and_a_regrtest_subset_pass_under_emulation(cross_full, tmp_path):
    before = _target_files_outside_the_cache()
    out = passing_test_dist(
        cross_full, tmp_path, "--regrtest", "--tests", *REGRTEST_MODULES, what="under qemu"
    )
    assert "qemu-aarch64" in out and "private mount namespace" in out
    assert _target_files_outside_the_cache() == before  # nothing of the target left here


APP_MAIN = """\
import json, platform, sys
print(json.dumps({"args": sys.argv[1:], "machine": platform.machine(), "stdlib": json.__file__}))
sys.exit(len(sys.argv) - 1)
"""


def test_a_relinked_interpreter_and_a_frozen_app_run_under_emulation(cross_full, tmp_path):
    # relink links a foreign target's objects with the same cross tool chain; what it wrote must
    # run on that CPU: the interpreter passes the smoke checks, the app runs its package.
    # Below a directory with a space: one of the smoke checks runs from such a path.
    unpacked = tmp_path / "cross relink"
    metadata, install = unpack_full(cross_full, unpacked)
    package = tmp_path / "hello_app"
    package.mkdir()
    (package / "__main__.py").write_text(APP_MAIN)
    python, program = install / "bin" / "python3-relinked", install / "bin" / "hello-app"
    for out, args in ((python, ()), (program, ("--frozen-app", package))):
        result, elapsed = run_shown(
            sys.executable, "-m", "pythonbuild", "relink", cross_full, "--out", out, *args
        )
        assert result.returncode == 0, result.stderr[-3000:]
        print(f"relink {out.name}: {elapsed:.0f}s, {out.stat().st_size / 1e6:.1f} MB")
    assert read_elf(python).machine == read_elf(install / "bin" / "python3.13").machine
    scratch = tmp_path / "scratch"
    emulation = emulation_for(
        get_target(TARGET), parse_options(metadata["build_options"]), python,
        default_cache_dir(), scratch, tmp_path / "logs",
    )  # fmt: skip
    assert emulation is not None
    launcher = emulation.launcher(scratch)
    failed = smoke_failures(python, unpacked / "python" / "PYTHON.json", tmp_path, launcher)
    assert not failed, (tmp_path / "smoke.log").read_text()[-4000:]
    run = subprocess.run([*launcher, program, "-I", "x"], capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    said = json.loads(run.stdout)
    assert said["args"] == ["-I", "x"] and said["machine"] == get_target(TARGET).machine
    assert Path(said["stdlib"]).is_relative_to(install / "lib"), said
