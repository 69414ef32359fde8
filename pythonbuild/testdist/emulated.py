"""Distributions of a foreign target, tested here: another CPU's under qemu-user, i686's as they
are (an x86_64 kernel runs i386 code; only the loader and libraries are missing).

Another CPU's programs run on this machine through binfmt_misc (``linux.emulation``); their
loader and libraries come from a plain Debian system of the target's architecture and glibc
floor (its ``sysroot`` suite), debootstrapped once into the cache. The tests run in a private mount
namespace where that loader and the loader's multiarch directory appear at the paths the
target's programs look in (``loader_namespace``), so every process, whatever environment it
is given, finds them; nothing of the target is put anywhere else on this machine. Only the
distribution's own ELF files are emulated: the shell and tools it starts are this machine's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from .. import log
from ..distribution.elf import is_elf, read_elf_header, read_interpreter
from ..errors import BuildError, UsageError
from ..linux.emulation import ensure_emulation
from ..linux.images.build import runtime_rootfs_dir, runtime_rootfs_spec
from ..options import BuildOptions
from ..paths import RESOURCES
from ..targets import Target, get_target
from ..validate.data import elf_kind
from .loader_namespace import Bind
from .musl_runtime import extract_libc, musl_artifact, musl_binds

SUBSET_FILE = RESOURCES / "testdist" / "emulated-tests.yml"
NAMESPACE_SCRIPT = Path(__file__).resolve().parent / "loader_namespace.py"


# Where a Debian loader looks for libraries first: the multiarch directories of /lib and /usr/lib
# (glibc's system directories; both are one directory on a merged-/usr system).
LIBRARY_DIRECTORIES = ("/lib", "/usr/lib")
_SYMLINK_HOPS = 40  # as the kernel's limit


@dataclass(frozen=True)
class Emulation:
    emulator: str | None  # None: this machine's CPU, only the C library is another
    rootfs: Path
    binds: tuple[Bind, ...]  # what the namespace shows, and where

    @property
    def how(self) -> str:
        """How the programs run, for messages: ``under qemu-aarch64 `` or nothing."""
        return f"under qemu-{self.emulator} " if self.emulator else ""

    def launcher(self, scratch: Path) -> list[str]:
        """The command prefix that runs a command in the namespace; ``scratch`` is an empty
        directory, the mount point of the namespace's own tmpfs."""
        binds = [f"--bind={b.path}={b.source}" for b in self.binds]
        return [sys.executable, "-I", str(NAMESPACE_SCRIPT), f"--scratch={scratch}", *binds, "--"]


def resolve_in_root(root: Path, path: str) -> PurePosixPath:
    """Where ``path`` leads inside the directory tree ``root`` with every symlink followed as
    the target system would (an absolute link starts again at ``root``, never at this
    machine's /)."""
    pending = list(PurePosixPath(path).parts[1:])
    current = PurePosixPath("/")
    hops = 0
    while pending:
        name = pending.pop(0)
        if name == "..":
            current = current.parent
            continue
        entry = root / (current / name).relative_to("/")
        if not entry.is_symlink():
            current = current / name
            continue
        hops += 1
        if hops > _SYMLINK_HOPS:
            raise BuildError(f"{root}: too many symbolic links in {path}")
        link = PurePosixPath(os.readlink(entry))
        if link.is_absolute():
            current = PurePosixPath("/")
            pending = list(link.parts[1:]) + pending
        else:
            pending = list(link.parts) + pending
    return current


def loader_binds(rootfs: Path, interpreter: str) -> tuple[Bind, ...]:
    """What the namespace shows: ``rootfs``'s loader at ``interpreter`` (the PT_INTERP of the
    target's programs) and the directory holding it, its multiarch directory (Debian keeps the
    real loader there: ``aarch64-linux-gnu/ld-2.31.so``), in each of LIBRARY_DIRECTORIES."""
    loader = resolve_in_root(rootfs, interpreter)
    multiarch = loader.parent
    if not (rootfs / loader.relative_to("/")).is_file() or str(multiarch.parent) not in (
        LIBRARY_DIRECTORIES
    ):
        raise BuildError(
            f"{rootfs} has no loader {interpreter} in a multiarch directory of "
            f"{' or '.join(LIBRARY_DIRECTORIES)} (found {loader}); remove it to have it made again"
        )
    source = str(rootfs / multiarch.relative_to("/"))
    return (
        Bind(interpreter, str(rootfs / loader.relative_to("/"))),
        *(Bind(f"{d}/{multiarch.name}", source) for d in LIBRARY_DIRECTORIES),
    )


def check_architecture(triple: str, python: Path) -> Target:
    """The target of ``triple``, after checking that ``python`` is an ELF file for it."""
    target = get_target(triple)
    expected = elf_kind(target.gnu_triple.split("-", 1)[0])
    info = read_elf_header(python.resolve()) if is_elf(python.resolve()) else None
    if info is None or info.kind != expected:
        found = info.kind if info else "not an ELF file"
        raise UsageError(
            f"{python.name} of this {triple} archive is {found}, not {expected}: the archive "
            "is corrupt or mislabelled; rebuild it"
        )
    return target


def emulation_for(
    target: Target,
    options: BuildOptions,
    python: Path,
    cache_dir: Path,
    scratch: Path,
    logs: Path,
    recorded_libc: str | None = None,
) -> Emulation | None:
    """How this machine runs ``target``'s programs (``python`` is one); None when it runs them
    as they are. A foreign target's run with the loader and libraries of a Debian system of its
    architecture (another CPU's under qemu-user); a musl target's with the musl of its own
    build (``musl_runtime``).
    Checks that ``python`` starts in the namespace with an empty environment.
    ``recorded_libc``: the musl step artifact the archive's build record names, if it has one."""
    libc_package = target.libc_package(options)
    if not target.foreign and (libc_package is None or options.static):
        return None  # (a +static python needs no loader and no libc.so)
    if os.geteuid() != 0:
        raise BuildError(
            f"testing {target.triple} here needs root: its loader and libraries are mounted "
            f"where its programs look for them, in a mount namespace of the test's own; rerun "
            f"as root"
        )
    if target.emulator is not None:
        ensure_emulation(target.emulator, logs)
    interpreter = read_interpreter(python.resolve())
    if interpreter is None and options.static:
        emulation = Emulation(target.emulator, scratch.parent, ())
        _check_start(emulation, python, scratch)
        log.info(f"{target.triple}: its static programs run {emulation.how}as they are")
        return emulation
    if interpreter is None:
        raise BuildError(f"{python} names no loader (PT_INTERP): it cannot run here; rebuild it")
    if libc_package is not None:
        artifact = musl_artifact(target, libc_package, cache_dir, recorded_libc)
        libc = extract_libc(artifact, libc_package, scratch.parent / "musl-libc.so")
        emulation = Emulation(target.emulator, libc.parent, musl_binds(libc, interpreter))
        where = f"the {libc_package} of its build ({artifact.name})"
    else:
        spec = runtime_rootfs_spec(target.sysroot, arch=target.debian_arch)
        rootfs = runtime_rootfs_dir(spec, cache_dir, logs)
        emulation = Emulation(target.emulator, rootfs, loader_binds(rootfs, interpreter))
        where = (
            f"the loader and libraries of Debian {target.sysroot} {target.debian_arch} ({rootfs})"
        )
    _check_start(emulation, python, scratch)
    log.info(
        f"{target.triple}: its programs run {emulation.how}with {where}, mounted at "
        f"{', '.join(b.path for b in emulation.binds)} in a private mount namespace"
    )
    return emulation


def _check_start(emulation: Emulation, python: Path, scratch: Path) -> None:
    """Start ``python`` in the namespace as a child the tests start might be: with no
    environment at all. A failure here is one line, not every test failing the same way."""
    scratch.mkdir(parents=True, exist_ok=True)
    cmd = [*emulation.launcher(scratch), str(python), "-S", "-c", "pass"]
    result = subprocess.run(
        cmd, env={}, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        errors="replace", check=False,
    )  # fmt: skip
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise BuildError(
            f"{python.name} does not start {emulation.how}with its loader mounted (exit status "
            f"{result.returncode}): {lines[-1]}"
        )


def emulated_subset(python_minor: str) -> tuple[str, ...]:
    """The regression-suite modules run for a target under emulation (the whole suite takes
    hours there): resources/testdist/emulated-tests.yml."""
    data = yaml.safe_load(SUBSET_FILE.read_text())
    return tuple(data.get(python_minor) or data["default"])
