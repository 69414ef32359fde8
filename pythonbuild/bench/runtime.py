"""How a distribution for another C library than this machine's starts in a bench run.

A musl distribution's programs ask for ``/lib/ld-musl-x86_64.so.1``, which this (glibc) machine
does not have and must not get. As in test-dist, they run in a private mount namespace where
the musl of their own build (the artifact its build record names) is mounted at that path:
every process of the benchmark, pyperf's workers included, sees it. The namespace changes which
files are visible, nothing else, so the timings are the same as on a musl system with that musl.

Another CPU's distribution is refused: under qemu-user its timings would say nothing about
that CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..distribution.elf import read_interpreter
from ..errors import UsageError
from ..options import parse_options
from ..paths import default_cache_dir
from ..targets import get_target
from ..testdist.emulated import emulation_for
from ..testdist.musl_runtime import recorded_libc_artifact
from .interpreters import read_distribution_metadata


def distribution_launcher(
    root: Path, python: Path, source: Path, work_dir: Path
) -> tuple[str, ...]:
    """The command prefix ``python`` (of the distribution extracted at ``root``, named
    ``source`` on the command line) needs to start here; empty when it starts as it is."""
    found = read_distribution_metadata(root)
    if found is None:
        loader = read_interpreter(python.resolve())
        if loader is None or os.path.exists(loader):
            return ()
        raise UsageError(
            f"--dist {source}: its python needs the loader {loader}, which this machine does "
            "not have; give the full archive of the same build (its build record names the C "
            "library to run it with)"
        )
    metadata, top = found
    target = get_target(str(metadata["target_triple"]))
    if target.emulator is not None:
        cpu = target.gnu_triple.split("-")[0]
        raise UsageError(
            f"--dist {source}: a {target.triple} distribution runs here only under "
            f"qemu-{target.emulator}, whose timings say nothing about {cpu}; bench it on an "
            f"{cpu} machine itself"
        )
    options = parse_options(str(metadata["build_options"]), implemented_only=False)
    recorded = recorded_libc_artifact(target, options, top / "build" / "inputs.json")
    namespace = work_dir / "namespaces" / root.name
    scratch = namespace / "scratch"
    emulation = emulation_for(
        target, options, python, default_cache_dir(), scratch, namespace / "logs", recorded
    )
    return tuple(emulation.launcher(scratch)) if emulation else ()
