"""Targets of another CPU: their data, images, build flags, emulation and architecture checks."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from pythonbuild.distribution.elf import read_elf_header
from pythonbuild.errors import BuildError, UsageError
from pythonbuild.linux import emulation
from pythonbuild.linux.images import build as images
from pythonbuild.linux.images.lock import read_lock
from pythonbuild.targets import get_target, load_targets
from pythonbuild.testdist.emulated import check_architecture, emulated_subset
from pythonbuild.testdist.exclusions import (
    Exclusion,
    exclusions_for,
    load_exclusions,
    parse_exclusions,
    regrtest_arguments,
)
from pythonbuild.validate.data import elf_kind, elf_loader

ARM = get_target("aarch64-unknown-linux-gnu")
X86 = get_target("x86_64-unknown-linux-gnu")
I686 = get_target("i686-unknown-linux-gnu")


def test_targets_of_another_architecture_are_foreign() -> None:
    targets = load_targets()
    foreign = {t for t, target in targets.items() if target.foreign}
    assert foreign == {t for t, target in targets.items() if target.debian_arch != "amd64"}
    assert {ARM.triple, "armv7-unknown-linux-gnueabihf", I686.triple} <= foreign
    assert not any(targets[t].foreign for t in targets if t.startswith("x86_64"))
    # Another CPU's code runs under qemu; i386 code runs on this CPU, only its loader differs.
    assert all(targets[t].emulator for t in foreign if targets[t].debian_arch != "i386")
    assert I686.foreign and I686.emulator is None
    assert ARM.foreign and ARM.emulator == "aarch64" and ARM.debian_arch == "arm64"


def test_every_glibc_target_needs_the_loader_its_cpu_names() -> None:
    for target in load_targets().values():
        if target.libc != "glibc":
            continue  # (musl's loader is its libc.so itself)
        cpu = target.gnu_triple.split("-", 1)[0]
        loader = elf_loader(cpu, target.libc)
        assert loader and loader.rsplit("/", 1)[1] in target.needed_libraries, target.triple


def test_a_foreign_sysroot_has_its_own_lock_section_and_tag() -> None:
    lock = read_lock()
    _, arm_sysroot = images.rootfs_specs(ARM, lock)
    _, x86_sysroot = images.rootfs_specs(X86, lock)
    assert arm_sysroot.section == "sysroot-bullseye-arm64"
    assert x86_sysroot.section == "sysroot-bullseye"  # unchanged: x86 image tags stay valid
    assert arm_sysroot.tag.startswith("standalone-python/sysroot-bullseye-arm64:")
    assert arm_sysroot.input_hash() != x86_sysroot.input_hash()
    assert {p.architecture for p in arm_sysroot.locked or ()} <= {"arm64", "all"}


def test_the_foreign_build_image_names_this_machines_compiler() -> None:
    arm = images.planned_build_image(ARM).dockerfile
    x86 = images.planned_build_image(X86).dockerfile
    # The compilers link against the glibc stubs' tree; qemu runs programs with the real libc.
    assert "--target=aarch64-linux-gnu --sysroot=/tools/glibc" in arm
    assert "ENV BUILD_CC=clang-19 CC_FOR_BUILD=clang-19 QEMU_LD_PREFIX=/sysroot" in arm
    assert "BUILD_CC" not in x86 and "QEMU_LD_PREFIX" not in x86


def test_every_autoconf_library_script_passes_the_host_arguments() -> None:
    scripts = Path(images.UNIX_DIR).glob("build-*.sh")
    for script in scripts:
        if script.name in ("build-cpython.sh", "build-python.sh", "build-zlib.sh"):
            continue  # CPython passes --host itself; zlib's configure is not autoconf's
        for line in script.read_text().splitlines():
            if line.startswith("./configure"):
                assert '"${configure_host_args[@]}"' in line, script.name


def _binfmt(tmp_path: Path, flags: str, enabled: bool = True) -> Path:
    (tmp_path / "qemu-aarch64").write_text(
        ("enabled" if enabled else "disabled")
        + f"\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {flags}\n"
    )
    return tmp_path


def test_a_registered_emulator_with_the_f_flag_is_used_as_it_is(tmp_path) -> None:
    binfmt = _binfmt(tmp_path, "POF")
    assert emulation.registered_flags("aarch64", binfmt) == "POF"
    emulation.ensure_emulation("aarch64", tmp_path, binfmt)  # nothing to do, no error


def test_an_emulator_without_the_f_flag_is_refused_with_the_fix(tmp_path) -> None:
    binfmt = _binfmt(tmp_path, "P")
    with pytest.raises(BuildError, match="without the F flag") as info:
        emulation.ensure_emulation("aarch64", tmp_path, binfmt)
    assert "\n" not in str(info.value)


def test_a_disabled_entry_counts_as_missing(tmp_path) -> None:
    assert emulation.registered_flags("aarch64", _binfmt(tmp_path, "POF", enabled=False)) is None
    assert emulation.registered_flags("riscv64", tmp_path) is None


def test_a_wrong_architecture_interpreter_is_one_line(tmp_path) -> None:
    python = tmp_path / "python3"
    python.symlink_to(Path(sys.executable).resolve())  # this machine's x86_64 interpreter
    with pytest.raises(UsageError) as info:
        check_architecture(ARM.triple, python)
    message = str(info.value)
    assert "EM_X86_64 ELF64 little-endian, not EM_AARCH64 ELF64 little-endian" in message
    assert "\n" not in message
    assert check_architecture(X86.triple, python) == X86
    (tmp_path / "script").write_text("#!/bin/sh\n")
    with pytest.raises(UsageError, match="not an ELF file"):
        check_architecture(X86.triple, tmp_path / "script")


def _elf_header(byte_order: str, machine: int) -> bytes:
    """A 64-bit ELF file header alone (no sections, no segments), in ``byte_order``."""
    ident = b"\x7fELF" + bytes([2, 1 if byte_order == "little" else 2, 1]) + bytes(9)
    fields = (3, machine, 1, 0, 0, 0, 0, 64, 56, 0, 64, 0, 0)  # ET_DYN, EM_*, EV_CURRENT, ...
    return ident + struct.pack(("<" if byte_order == "little" else ">") + "HHIQQQIHHHHHH", *fields)


def test_the_byte_order_counts_as_much_as_the_machine(tmp_path) -> None:
    # s390x is big-endian; EM_PPC64 is both ppc64le and the big-endian ppc64 of other systems.
    big = tmp_path / "big"
    big.write_bytes(_elf_header("big", 22))  # EM_S390
    assert read_elf_header(big).kind == elf_kind("s390x") == "EM_S390 ELF64 big-endian"
    assert check_architecture("s390x-unknown-linux-gnu", big).triple == "s390x-unknown-linux-gnu"
    ppc64 = tmp_path / "ppc64"
    ppc64.write_bytes(_elf_header("big", 21))  # EM_PPC64, big-endian: not ppc64le's
    with pytest.raises(UsageError, match="EM_PPC64 ELF64 big-endian, not EM_PPC64 ELF64 little"):
        check_architecture("ppc64le-unknown-linux-gnu", ppc64)


def test_the_emulated_subset_runs_named_modules_less_excluded_ones(tmp_path) -> None:
    subset = emulated_subset("3.13")
    assert "test_ctypes" in subset and "test_struct" in subset
    exclusions = [
        Exclusion("module", "test_ctypes", "r", "*"),
        Exclusion("case", "test.test_os.X.test_y", "r", "*"),
    ]
    args = regrtest_arguments(exclusions, tmp_path / "ignore", ("test_ctypes", "test_os"))
    assert args == ["--ignorefile", str(tmp_path / "ignore"), "test_os"]  # no -x: a selection


def test_emulation_only_exclusions_apply_only_under_emulation() -> None:
    table = parse_exclusions(
        {
            "3.13": {
                "*": [
                    {"module": "test_everywhere", "reason": "r"},
                    {"case": "test.test_os.A.test_b", "reason": "qemu", "emulated": True},
                ]
            }
        }
    )
    names = [e.test for e in exclusions_for(table, "3.13", ARM.triple, "noopt", emulated=True)]
    assert names == ["test_everywhere", "test.test_os.A.test_b"]
    # The same target on its own CPU, and the host's own target, run the emulated case.
    assert [e.test for e in exclusions_for(table, "3.13", ARM.triple, "noopt")] == [
        "test_everywhere"
    ]
    with pytest.raises(BuildError, match="emulated is true or false"):
        parse_exclusions({"3.13": {"*": [{"module": "test_x", "reason": "r", "emulated": "y"}]}})


def test_foreign_only_exclusions_apply_to_i686_too_but_never_to_the_hosts_target() -> None:
    table = load_exclusions()
    case = "test.test_ctypes.test_dlerror.TestNullDlsym.test_null_dlsym"
    qemu_case = "test.test_os.ForkTests.test_fork_warns_when_non_python_thread_exists"

    def names(triple: str, **how: bool) -> list[str]:
        return [e.test for e in exclusions_for(table, "3.13", triple, "lto", **how)]

    assert case in names(I686.triple, foreign=True)  # this machine's gcc builds for x86_64
    assert qemu_case not in names(I686.triple, foreign=True)  # runs on this CPU: it passes
    assert {case, qemu_case} <= set(names(ARM.triple, emulated=True, foreign=True))
    assert case not in names(X86.triple)
    with pytest.raises(BuildError, match="foreign is true or false"):
        parse_exclusions({"3.13": {"*": [{"module": "test_x", "reason": "r", "foreign": 1}]}})


def test_every_emulation_only_exclusion_names_qemu() -> None:
    entries = [e for entries in load_exclusions().values() for e in entries if e.emulated]
    assert entries, "the shipped list has the qemu-user limitations"
    for entry in entries:
        assert "qemu" in entry.reason, entry.test
