"""Distributions linked against musl, run on this (glibc) machine with the musl the project built.

A musl program asks for its loader by the absolute path in its ELF file
(``/lib/ld-musl-x86_64.so.1``), and musl's loader is its ``libc.so``: one file is the whole C
library. This machine has none, and must not get one, so the tests run in the private mount
namespace of ``loader_namespace`` with the ``libc.so`` of the target's own musl step (the
build's output, kept in the artifact cache) mounted at that path. Every process the tests start
sees it; the shell and tools they start are this machine's.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path, PurePosixPath

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from ..errors import BuildError
from ..options import BuildOptions
from ..registry import load_registry
from ..targets import Target
from ..validate.data import elf_loader, elf_machines
from .loader_namespace import Bind

# Where the musl step installs its tree (cpython-unix/build.Dockerfile.j2: TARGET_SYSROOT),
# inside its artifact: the loader is lib/ld-musl-ARCH.so.1, a link to usr/lib/libc.so.
ARTIFACT_ROOT = PurePosixPath("tools")
LIBC = PurePosixPath("usr/lib/libc.so")


def recorded_artifact(inputs_json: Path, step: str) -> str | None:
    """The artifact of build step ``step`` that a full archive's ``python/build/inputs.json``
    records (None: no such file or step)."""
    try:
        record = json.loads(inputs_json.read_text())
        return next(s["artifact"] for s in record["steps"] if s["name"] == step)
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None


def recorded_libc_artifact(target: Target, options: BuildOptions, inputs_json: Path) -> str | None:
    """The C library step artifact a full archive's build record names (None: no record, or
    a target whose C library is not built here)."""
    package = target.libc_package(options)
    return recorded_artifact(inputs_json, package) if package else None


def musl_artifact(
    target: Target, package: str, cache_dir: Path, recorded: str | None = None
) -> Path:
    """The cached output of ``target``'s musl step ``package``: the one a full archive's record
    names (``recorded``), else the newest of the version the registry pins whose ``libc.so``
    is code for the target's CPU (artifact names do not say which target made them)."""
    artifacts = cache_dir / "artifacts"
    build_first = (
        f"the tests of a {target.triple} archive run with the {package} its build makes; build "
        f"the target on this machine first (./build-linux.py --target {target.triple})"
    )
    if recorded is not None:
        if not (artifacts / recorded).is_file():
            raise BuildError(f"no {recorded} in {artifacts}: {build_first}")
        return artifacts / recorded
    version = load_registry()[package].version
    machine = elf_machines()[target.gnu_triple.split("-")[0]][0]
    found = sorted(
        artifacts.glob(f"{package}-{version}-*.tar"),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for artifact in found:
        if _libc_machine(artifact) == machine:
            return artifact
    raise BuildError(f"no {package} {version} for {target.triple} in {artifacts}: {build_first}")


def _libc_machine(artifact: Path) -> str | None:
    """The ELF machine of the musl ``libc.so`` in ``artifact`` (None: unreadable)."""
    try:
        with tarfile.open(artifact) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(f"/{LIBC}"):
                    handle = tar.extractfile(member)
                    return ELFFile(io.BytesIO(handle.read()))["e_machine"] if handle else None
    except (tarfile.TarError, OSError, ELFError):
        return None
    return None


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


def musl_loaders() -> set[str]:
    """Every loader path musl's programs name, one per CPU (resources/validate)."""
    return {path for cpu in elf_machines() if (path := elf_loader(cpu, "musl"))}


def musl_binds(libc: Path, interpreter: str) -> tuple[Bind, ...]:
    """``libc`` at ``interpreter``, the PT_INTERP of the target's programs (musl's loader finds
    ``libc.so``, the only library they need, in itself), and at ``ldd``, as on a musl system."""
    if interpreter not in musl_loaders():
        raise BuildError(
            f"the interpreter asks for loader {interpreter}, not musl's: the archive is not a "
            f"musl build; rebuild it"
        )
    return (Bind(interpreter, str(libc)), Bind(LDD, str(libc)))
