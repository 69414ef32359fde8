"""Targets, read from ``cpython-unix/targets.yml`` (data, not code paths)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from .errors import UsageError
from .options import BuildOptions
from .paths import UNIX_DIR
from .versions import version_matches

HOST_DEBIAN_ARCH = "amd64"  # the build host's architecture, Debian's name (host_platforms)


@dataclass(frozen=True)
class Target:
    triple: str
    host_platforms: tuple[str, ...]
    pythons: tuple[str, ...]
    image: str
    sysroot: str
    glibc_floor: str | None  # None: not a glibc target
    gnu_triple: str
    machine: str  # `uname -m` on the target's CPU (the platform tag is linux-<machine>)
    march: str | None  # None: the CPU is chosen otherwise (ppc64le: -mcpu in target_cflags)
    # When the build machine cannot run target code: -march of the build interpreter, and the
    # packages (built in the CPython step) it needs.
    build_python_march: str
    build_python_needs: tuple[str, ...]
    bolt: bool  # pgo builds are also optimized with llvm-bolt
    needs: tuple[tuple[str, str | None], ...]  # (package, python version spec or None)
    needed_libraries: tuple[str, ...]
    target_cflags: tuple[str, ...]
    target_ldflags: tuple[str, ...]
    # Debian's name of the target's architecture (the sysroot's and test systems' packages).
    # Another than the build host's (amd64) makes the target foreign: see ``foreign``.
    debian_arch: str = "amd64"
    # qemu-user's name of the architecture when this machine's CPU cannot run its code (another
    # CPU): tests run the target's programs under qemu-<emulator>. None: this CPU runs them (the
    # host's own architecture, or i386 code, which an x86_64 kernel runs as it is).
    emulator: str | None = None
    # The C library: "glibc" comes with the sysroot; any other (musl) is the registry package
    # of that name, built before every other package and linked against by all of them.
    libc: str = "glibc"
    # -l names the C library's own file answers (musl: libc.so holds libm, libpthread, ...).
    libc_link_names: tuple[str, ...] = ()
    # -l names the compiler's runtime answers with a static archive of the sysroot's GCC (i686:
    # atomic, whose libatomic.a is linked into the files): allowed, and no library at run time.
    runtime_link_names: tuple[str, ...] = ()
    # The registry package of the C library that +static builds link into their one executable
    # (None: the target builds no +static flavor; glibc cannot be linked statically into an
    # interpreter that resolves names and users through NSS modules it would load at run time).
    static_libc: str | None = None
    # The registry package whose build makes the tree a glibc target links against instead of
    # the Debian sysroot's glibc: glibc's headers and link stubs of glibc_floor (ziglang; see
    # docs/glibc-floor.md). None: the sysroot suite's own glibc sets the floor.
    glibc_stubs: str | None = None

    @property
    def platform_tag(self) -> str:
        """sysconfig.get_platform() on the target (PYTHON.json's python_platform_tag)."""
        return f"linux-{self.machine}"

    @property
    def foreign(self) -> bool:
        """Whether the target's programs cannot run in the build image: code for another CPU,
        or for another architecture of this one (i386), whose loader and libraries the build
        image lacks. Such a build runs a separate interpreter for this machine, and its tests
        mount a Debian system's loader and libraries of ``debian_arch`` where the programs look
        (under qemu-<emulator> when there is one)."""
        return self.debian_arch != HOST_DEBIAN_ARCH

    def libc_package(self, options: BuildOptions) -> str | None:
        """The registry package that builds the C library of this target's ``options`` builds
        (None: the sysroot's)."""
        if options.static:
            return self.static_libc
        return None if self.libc == "glibc" else self.libc

    @property
    def build_sysroot(self) -> str:
        """The tree the build image's compiler drivers pass as --sysroot: the Debian sysroot,
        or the one the first step of every build makes (a C library, glibc stubs)."""
        if self.libc != "glibc":
            return f"/tools/{self.libc}"
        return "/tools/glibc" if self.glibc_stubs else "/sysroot"

    def sysroot_package(self, options: BuildOptions) -> str | None:
        """The registry package built before every other one of ``options`` builds, whose tree
        (TARGET_SYSROOT) they all compile and link against: a C library built from source, or
        the glibc stubs package. None: the Debian sysroot as it is."""
        return self.libc_package(options) or (self.glibc_stubs if self.libc == "glibc" else None)

    def refusal(self, options: BuildOptions) -> str | None:
        """Why this target cannot build ``options`` (None: it can), as one line."""
        if options.static and self.static_libc is None:
            static = sorted(t.triple for t in load_targets().values() if t.static_libc)
            return (
                f"target {self.triple} has no +static flavor (a static interpreter needs musl); "
                f"drop +static from --options, or choose one of: {', '.join(static)}"
            )
        return None

    def packages_for(self, python: str) -> list[str]:
        """Libraries this target builds for Python ``python`` (before adding their deps)."""
        return [name for name, spec in self.needs if spec is None or version_matches(python, spec)]


def _parse_needs(raw: list) -> tuple[tuple[str, str | None], ...]:
    needs = []
    for item in raw:
        if isinstance(item, str):
            needs.append((item, None))
        else:
            needs.append((item["name"], item.get("python")))
    return tuple(needs)


@cache
def load_targets(path: Path = UNIX_DIR / "targets.yml") -> dict[str, Target]:
    data = yaml.safe_load(path.read_text())
    targets = {}
    for triple, entry in data.items():
        targets[triple] = Target(
            triple=triple,
            host_platforms=tuple(entry["host_platforms"]),
            pythons=tuple(str(v) for v in entry["pythons"]),
            image=entry["image"],
            sysroot=entry["sysroot"],
            glibc_floor=None if entry["glibc_floor"] is None else str(entry["glibc_floor"]),
            gnu_triple=entry["triple"],
            machine=entry["machine"],
            march=entry.get("march"),
            build_python_march=entry["build_python"]["march"],
            build_python_needs=tuple(entry["build_python"].get("needs", [])),
            bolt=bool(entry.get("bolt", False)),
            needs=_parse_needs(entry.get("needs", [])),
            needed_libraries=tuple(entry.get("needed_libraries", [])),
            target_cflags=tuple(entry.get("target_cflags", [])),
            target_ldflags=tuple(entry.get("target_ldflags", [])),
            debian_arch=entry.get("debian_arch", "amd64"),
            emulator=entry.get("emulator"),
            libc=entry.get("libc", "glibc"),
            libc_link_names=tuple(entry.get("libc_link_names", [])),
            runtime_link_names=tuple(entry.get("runtime_link_names", [])),
            static_libc=entry.get("static_libc"),
            glibc_stubs=entry.get("glibc_stubs"),
        )
    return targets


def get_target(triple: str) -> Target:
    targets = load_targets()
    if triple not in targets:
        raise UsageError(f"unknown target {triple!r}; choose one of: {', '.join(sorted(targets))}")
    return targets[triple]
