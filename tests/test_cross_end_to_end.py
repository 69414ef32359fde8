"""End to end for a target of another CPU: aarch64 noopt cross-built here, validated, and run
under qemu-user (slow, opt-in: ./run-tests --cross; the libraries are cached after a first run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from builds import build_noopt_full, passing_test_dist, run_shown, unpack_full

from pythonbuild.distribution.elf import read_elf, scan_tree
from pythonbuild.targets import get_target

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
