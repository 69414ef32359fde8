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

import json
import os
from pathlib import Path

from ..distribution.elf import read_interpreter
from ..errors import UsageError
from ..options import parse_options
from ..paths import default_cache_dir
from ..targets import get_target
from ..testdist.emulated import emulation_for
from ..testdist.musl_runtime import recorded_artifact

_METADATA_PLACES = ("python/PYTHON.json", "PYTHON.json")


def _metadata(root: Path) -> tuple[dict | None, Path | None]:
    """PYTHON.json of an extracted full archive and the directory holding it (None: none)."""
    for place in _METADATA_PLACES:
        try:
            return json.loads((root / place).read_text()), (root / place).parent
        except (OSError, ValueError):
            continue
    return None, None


def distribution_launcher(
    root: Path, python: Path, source: Path, work_dir: Path
) -> tuple[str, ...]:
    """The command prefix ``python`` (of the distribution extracted at ``root``, named
    ``source`` on the command line) needs to start here; empty when it starts as it is."""
    metadata, top = _metadata(root)
    if metadata is None or top is None:
        loader = read_interpreter(python.resolve())
        if loader is None or os.path.exists(loader):
            return ()
        raise UsageError(
            f"--dist {source}: its python needs the loader {loader}, which this machine does "
            "not have; give the full archive of the same build (its build record names the C "
            "library to run it with)"
        )
    target = get_target(str(metadata["target_triple"]))
    if target.emulator is not None:
        cpu = target.gnu_triple.split("-")[0]
        raise UsageError(
            f"--dist {source}: a {target.triple} distribution runs here only under "
            f"qemu-{target.emulator}, whose timings say nothing about {cpu}; bench it on an "
            f"{cpu} machine itself"
        )
    options = parse_options(str(metadata["build_options"]), implemented_only=False)
    package = target.libc_package(options)
    recorded = recorded_artifact(top / "build" / "inputs.json", package) if package else None
    label = root.name
    emulation = emulation_for(
        target,
        options,
        python,
        default_cache_dir(),
        work_dir / "namespaces" / label / "scratch",
        work_dir / "namespaces" / label / "logs",
        recorded,
    )
    if emulation is None:
        return ()
    return tuple(emulation.launcher(work_dir / "namespaces" / label / "scratch"))
