"""Distributions linked against musl, run on this (glibc) machine with the musl the project built.

A musl program asks for its loader by the absolute path in its ELF file
(``/lib/ld-musl-x86_64.so.1``), and musl's loader is its ``libc.so``: one file is the whole C
library. This machine has none, and must not get one, so the tests run in the private mount
namespace of ``loader_namespace`` with the ``libc.so`` of the target's own musl step (the
build's output, kept in the artifact cache) mounted at that path. Every process the tests start
sees it; the shell and tools they start are this machine's.
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from ..errors import BuildError
from ..registry import load_registry
from ..targets import Target
from .loader_namespace import Bind

# Where the musl step installs its tree (cpython-unix/build.Dockerfile.j2: TARGET_SYSROOT),
# inside its artifact: the loader is lib/ld-musl-ARCH.so.1, a link to usr/lib/libc.so.
ARTIFACT_ROOT = PurePosixPath("tools")
LIBC = PurePosixPath("usr/lib/libc.so")


def musl_artifact(target: Target, package: str, cache_dir: Path) -> Path:
    """The newest cached output of ``target``'s musl step ``package`` (the version the registry
    pins)."""
    version = load_registry()[package].version
    found = sorted(
        (cache_dir / "artifacts").glob(f"{package}-{version}-*.tar"),
        key=lambda path: path.stat().st_mtime,
    )
    if not found:
        raise BuildError(
            f"no {package} {version} in {cache_dir / 'artifacts'}: the tests of a "
            f"{target.triple} archive run with the {package} its build makes; build the target "
            f"on this machine first (./build-linux.py --target {target.triple})"
        )
    return found[-1]


def extract_libc(artifact: Path, package: str, dest: Path) -> Path:
    """Copy the musl ``libc.so`` (which is also its loader) out of ``artifact`` to ``dest``."""
    member_name = str(ARTIFACT_ROOT / package / LIBC)
    try:
        with tarfile.open(artifact) as tar:
            member = tar.getmember(member_name)
            source = tar.extractfile(member) if member.isfile() else None
            if source is None:
                raise KeyError(member_name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(source.read())
    except (KeyError, tarfile.TarError, OSError) as exc:
        raise BuildError(
            f"{artifact} holds no {member_name} ({exc}); remove it to have it built again"
        ) from None
    dest.chmod(0o755)
    return dest


# A musl system's ldd is musl's libc.so started under that name. CPython's tests ask ldd whether
# the interpreter is linked to musl (test.support.linked_to_musl) and expect musl's behaviour
# where it is; this machine's own ldd is glibc's, which cannot read a musl program.
LDD = "/usr/bin/ldd"


def musl_binds(libc: Path, interpreter: str) -> tuple[Bind, ...]:
    """``libc`` at ``interpreter``, the PT_INTERP of the target's programs (musl's loader finds
    ``libc.so``, the only library they need, in itself), and at ``ldd``, as on a musl system."""
    if not interpreter.startswith("/lib/ld-musl-"):
        raise BuildError(
            f"the interpreter asks for loader {interpreter}, not musl's: the archive is not a "
            f"musl build; rebuild it"
        )
    return (Bind(interpreter, str(libc)), Bind(LDD, str(libc)))
