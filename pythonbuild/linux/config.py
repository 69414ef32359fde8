"""What one Linux build is asked to do: ``LinuxBuildConfig``, which the command line (``cli``)
fills in and the driver (``driver``) runs.  Its own module so that neither imports the other
for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..options import BuildOptions
from ..targets import Target
from .pgo_profile import RecordedProfile


@dataclass(frozen=True)
class LinuxBuildConfig:
    target: Target
    python: str
    options: BuildOptions
    dist_dir: Path
    cache_dir: Path
    source_dir: Path | None
    jobs: int
    allow_private_engine: bool
    keep_engine: bool
    tag: str | None
    validate: bool = True  # run `python -m pythonbuild validate` on the full archive
    pgo_profile: RecordedProfile | None = None  # --pgo-profile: training replaced by this
    # --libraries-only: build (or find cached) the library steps and stop before CPython, so
    # CI builds a target's libraries once and hands the cache to each option's build.
    libraries_only: bool = False
