"""Distributions for another CPU than this machine's, tested here under qemu-user.

The target's programs run on this machine through binfmt_misc (``emulation``); their loader and
libraries come from a plain Debian system of the target's architecture and glibc floor (its
``sysroot`` suite), debootstrapped once into the cache (``QEMU_LD_PREFIX``). Only the
distribution's own ELF files are emulated: the shell and tools it starts are this machine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import log
from ..elf import is_elf, read_elf_header
from ..emulation import ensure_emulation
from ..errors import UsageError
from ..images import runtime_rootfs_dir, runtime_rootfs_spec
from ..paths import RESOURCES
from ..targets import Target, get_target
from ..validate.data import elf_machines

SUBSET_FILE = RESOURCES / "testdist" / "emulated-tests.yml"


@dataclass(frozen=True)
class Emulation:
    emulator: str
    rootfs: Path

    @property
    def env(self) -> dict[str, str]:
        return {"QEMU_LD_PREFIX": str(self.rootfs)}


def check_architecture(triple: str, python: Path) -> Target:
    """The target of ``triple``, after checking that ``python`` is an ELF file for it."""
    target = get_target(triple)
    cpu = target.gnu_triple.split("-", 1)[0]
    machine, elfclass = elf_machines()[cpu]
    info = read_elf_header(python.resolve()) if is_elf(python.resolve()) else None
    if info is None or (info.machine, info.elfclass) != (machine, elfclass):
        found = f"{info.machine} ELF{info.elfclass}" if info else "not an ELF file"
        raise UsageError(
            f"{python.name} of this {triple} archive is {found}, not {machine} "
            f"ELF{elfclass}: the archive is corrupt or mislabelled; rebuild it"
        )
    return target


def emulation_for(target: Target, cache_dir: Path, logs: Path) -> Emulation | None:
    """How this machine runs ``target``'s programs; None when it runs them natively."""
    if target.emulator is None:
        return None
    ensure_emulation(target.emulator, logs)
    spec = runtime_rootfs_spec(target.sysroot, arch=target.debian_arch)
    rootfs = runtime_rootfs_dir(spec, cache_dir, logs)
    log.info(
        f"{target.triple}: its programs run under qemu-{target.emulator} with the loader and "
        f"libraries of Debian {target.sysroot} {target.debian_arch} ({rootfs})"
    )
    return Emulation(target.emulator, rootfs)


def emulated_subset(python_minor: str) -> tuple[str, ...]:
    """The regression-suite modules run for a target under emulation (the whole suite takes
    hours there): resources/testdist/emulated-tests.yml."""
    data = yaml.safe_load(SUBSET_FILE.read_text())
    return tuple(data.get(python_minor) or data["default"])
