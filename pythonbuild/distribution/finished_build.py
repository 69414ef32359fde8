"""What a platform's driver hands to assembly once its build steps are done.

A ``FinishedBuild`` says what was built (target, Python, options, release tag and time), from
what (the sources), with what (the tool chain and its packages) and where the results are (the
CPython step's artifact, the fetched source files).  Assembly reads nothing else, so it never
needs to know how a platform plans, runs or caches its steps: each driver fills one in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..options import BuildOptions
from ..registry import Source
from ..sbom.toolchain import ImagePackages
from ..targets import Target


@dataclass(frozen=True)
class FinishedBuild:
    target: Target
    python: str  # X.Y
    options: BuildOptions
    tag: str  # the release tag the archive names carry
    source_date_epoch: int  # the archives' member times and the SBOMs' timestamp
    cpython: Source
    libraries: tuple[Source, ...]  # built before CPython and linked into it, in build order
    tarballs: Mapping[str, Path]  # source name -> its fetched file (license texts come from it)
    # The CPython step's output: install/, the objects for relinking, facts.json, stripped/.
    cpython_artifact: Path
    # This Python's entries of the platform's extension-modules.yml (which modules link what).
    extension_modules: Mapping[str, Mapping]
    # What build/'s objects are, for PYTHON.json: "elf", or "llvm-bitcode:<version>" from LTO.
    object_format: str
    # The systems the build ran in and linked against, with their packages (SBOMs, and
    # python/build/image-packages.txt).
    toolchain: tuple[ImagePackages, ...]
    # python/build/inputs.json: what `reproduce` needs to build the same archive again.
    inputs_record: bytes

    @property
    def sources(self) -> tuple[Source, ...]:
        """Every source that went into the distribution, CPython last."""
        return (*self.libraries, self.cpython)
