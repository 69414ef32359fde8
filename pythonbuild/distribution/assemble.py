"""Assemble the distribution: stage ``python/`` from the CPython artifact, write the archives.

Staging layout (``<work>/stage/python``), which the full archive mirrors:
    PYTHON.json   the document (format 8)
    install/      the relocatable installation
    build/        objects and static libraries for relinking (see docs/python-json.md), and
                  inputs.json, the build inputs record (docs/reproducibility.md)
    licenses/     one license text per component
    sbom.spdx.json, sbom.cdx.json   the SBOMs (docs/sbom.md), also in install_only's python/
                                    and beside the archives in dist/ as <full archive stem>.*
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from .. import log
from ..errors import BuildError
from ..options import BuildOptions
from ..paths import ROOT
from ..registry import Registry
from ..sbom.builder import SBOM_SUFFIXES, bill_of_materials, render_sboms
from ..sbom.toolchain import image_packages_text
from ..targets import Target
from .archive import (
    archive_name,
    atomic_output,
    write_distribution_archive,
    write_install_only_archive,
    write_sha256sums,
)
from .buildinfo import collect_build_artifacts, layout_build_objects
from .elf import ElfInfo, is_elf, newest_glibc_version, scan_tree
from .finished_build import FinishedBuild
from .metadata import (
    build_info_section,
    build_python_json,
    extension_libraries,
    load_facts,
    tcl_library_dirs,
    write_licenses,
    write_python_json,
)
from .relocate import make_relocatable

FULL_ARCHIVE_ORDER = ["PYTHON.json", "install", "build", "licenses"]
# The archives of one build, in the order the driver reports them (the full archive first).
ARCHIVE_FLAVORS = ("full", "install_only", "install_only_stripped")
# Code whose change changes the archives even when no build step reruns: the shared core's,
# distribution's and sbom's modules and the data files (not the tools, such as the benchmarks).
# A platform wing's code reaches the archives only through the FinishedBuild it fills in, which
# the stamp hashes; its inputs record names the commit and any uncommitted change besides.
ASSEMBLY_CODE = [
    *sorted((ROOT / "pythonbuild").glob("*.py")),
    *sorted((ROOT / "pythonbuild" / "distribution").glob("*.py")),
    *sorted((ROOT / "pythonbuild" / "sbom").glob("*.py")),
    *sorted(p for p in (ROOT / "pythonbuild" / "resources").iterdir() if p.is_file()),
]


# Bytecode for ``python -O`` and ``-OO``. install_only_stripped leaves it out: it is two thirds
# of the bytecode (about 8 MB of a 40 MB archive), Python writes it on the first ``-O`` import
# where the installation is writable and compiles from source where it is not (docs/sizes.md).
OPTIMIZED_BYTECODE_SUFFIXES = (".opt-1.pyc", ".opt-2.pyc")


def install_only_exclude(
    doc: Mapping, *, optimized_bytecode: bool = True
) -> Callable[[PurePosixPath], bool]:
    """What install_only leaves out, as PBS does: the stdlib test packages, the static
    libpython, and the test-support extension modules (paths relative to ``install/``); with
    ``optimized_bytecode=False`` (install_only_stripped) also every ``.opt-1.pyc`` and
    ``.opt-2.pyc``."""
    stdlib = PurePosixPath(doc["python_paths"]["stdlib"]).relative_to("install")
    test_dirs = {stdlib / pkg.replace(".", "/") for pkg in doc["python_stdlib_test_packages"]}
    test_modules = {
        PurePosixPath(variant["shared_lib"]).relative_to("install")
        for variants in doc["build_info"]["extensions"].values()
        for variant in variants
        if variant.get("shared_lib") and variant["shared_lib"].startswith("install/")
    }

    def exclude(path: PurePosixPath) -> bool:
        if path in test_dirs or path in test_modules:
            return True
        if not optimized_bytecode and path.name.endswith(OPTIMIZED_BYTECODE_SUFFIXES):
            return True
        return path.name.startswith("libpython") and path.suffix == ".a"

    return exclude


def replace_with_stripped(install: Path, stripped: Path) -> int:
    """Put the CPython step's debug-stripped ELF files (``stripped/<path in install>``, made with
    ``strip --strip-debug``, which keeps the symbol table) in place of those in ``install``.

    Returns how many were replaced.  Every ELF file of the installation must have its stripped
    copy, and every stripped file its original, so that the stripped archive is the same tree.
    """
    if not stripped.is_dir():
        raise BuildError(
            f"the CPython artifact has no {stripped.name}/ directory of debug-stripped files; "
            "it was made by an older cpython-unix/build-cpython.sh: rebuild it"
        )
    replaced = {p.relative_to(stripped) for p in stripped.rglob("*") if p.is_file()}
    elf_files = {
        path.relative_to(install)
        for path in install.rglob("*")
        if path.is_file() and not path.is_symlink() and is_elf(path)
    }
    if replaced != elf_files:
        unmatched = sorted(str(p) for p in replaced ^ elf_files)
        raise BuildError(
            "the debug-stripped files do not match the installation's ELF files "
            f"({', '.join(unmatched[:5])}); this is a bug in build-cpython.sh's strip stage"
        )
    for relative in sorted(replaced):
        target = install / relative
        mode = target.stat().st_mode
        shutil.copyfile(stripped / relative, target)
        target.chmod(mode)
    return len(replaced)


def _inputs_digest(build: FinishedBuild, names: list[str]) -> str:
    """What the archives of ``build`` follow from; ``names``: the texts they are made of (file
    names, the tool chain's package list, the inputs record, which names every source)."""
    digest = hashlib.sha256()
    for part in (
        build.cpython_artifact.name,
        build.tag,
        str(build.source_date_epoch),
        build.object_format,
        json.dumps(build.extension_modules, sort_keys=True),
        *names,
    ):
        digest.update(part.encode() + b"\0")
    for path in ASSEMBLY_CODE:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _up_to_date(stamp: Path, digest: str, outputs: list[Path]) -> bool:
    """The outputs exist, are unchanged since written, and came from the same inputs."""
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    if recorded.get("inputs") != digest:
        return False
    for path in outputs:
        if not path.is_file() or recorded["outputs"].get(path.name) != _sha256(path):
            return False
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract_artifact(artifact: Path, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(artifact) as tar:
        tar.extractall(dest, filter="tar")


def linked_against(target: Target, options: BuildOptions) -> dict[str, tuple[str, str]]:
    """The package built first whose tree every step linked against, when the distribution
    does not contain it: name -> (its SPDX relationship to cpython, what it is to it)."""
    first = target.sysroot_package(options)
    if first is None or options.static:  # (+static: that C library is linked in)
        return {}
    if first == target.glibc_stubs:
        return {
            first: (
                "BUILD_DEPENDENCY_OF",
                f"the source of glibc {target.glibc_floor}'s headers and link stubs that every "
                "package was compiled and linked against; none of its code is in the "
                "distribution, which uses the system's glibc",
            )
        }
    return {
        first: (
            "DYNAMIC_LINK",
            "built from source and linked against dynamically; the distribution uses the "
            "system's copy",
        )
    }


def check_runtime_libraries(infos: list[ElfInfo], allowed: set[str], install: Path) -> None:
    """Fail when an ELF file needs a shared library that is neither allowed nor shipped."""
    shipped = {info.path.name for info in infos}
    for info in infos:
        for needed in info.needed:
            if needed not in allowed and needed not in shipped:
                raise BuildError(
                    f"{info.path.relative_to(install)} needs {needed}, which is not in "
                    f"{sorted(allowed)} (the target's needed_libraries in targets.yml); "
                    "link it statically or allow it there"
                )


def assemble_distribution(
    *, build: FinishedBuild, registry: Registry, dist_dir: Path, work_dir: Path
) -> list[Path]:
    """Write the archives and SBOMs of ``build`` into ``dist_dir``; returns them, full archive
    first. ``work_dir``: where it stages them, and the stamp that says they are up to date."""
    target, options = build.target, build.options
    cpython = build.cpython
    names = {
        flavor: archive_name(
            python_version=cpython.version,
            release_tag=build.tag,
            triple=target.triple,
            options=options.name,
            flavor=flavor,
        )
        for flavor in ARCHIVE_FLAVORS
    }
    stem = names["full"].removesuffix(".tar.zst")
    sbom_names = {kind: f"{stem}{suffix}" for kind, suffix in SBOM_SUFFIXES.items()}
    outputs = [dist_dir / names[flavor] for flavor in ARCHIVE_FLAVORS]
    outputs += [dist_dir / name for name in sbom_names.values()]
    packages_text = image_packages_text(list(build.toolchain))
    stamp = work_dir / "assembled.json"
    digest = _inputs_digest(
        build,
        [*names.values(), *sbom_names.values(), packages_text, build.inputs_record.decode()],
    )
    if _up_to_date(stamp, digest, outputs):
        log.info("distribution archives are up to date")
        return [*outputs, write_sha256sums(dist_dir, outputs)]
    stamp.unlink(missing_ok=True)

    out_dir = work_dir / "out"
    _extract_artifact(build.cpython_artifact, out_dir)
    facts = load_facts(out_dir / "facts.json")

    python_dir = work_dir / "stage" / "python"
    shutil.rmtree(python_dir.parent, ignore_errors=True)
    python_dir.mkdir(parents=True)
    install = python_dir / "install"
    shutil.copytree(out_dir / "install", install, symlinks=True)
    changed = make_relocatable(install)
    log.info(f"made {len(changed)} files relocatable")

    infos = scan_tree(install)
    check_runtime_libraries(infos, set(target.needed_libraries), install)
    glibc = newest_glibc_version(infos)

    artifacts = collect_build_artifacts(out_dir, facts, target)
    layout_build_objects(out_dir, python_dir, artifacts)
    write_licenses(
        python_dir / "licenses", build.sources, lambda source: build.tarballs[source.name]
    )

    build_info = build_info_section(
        artifacts,
        facts,
        registry,
        extension_libraries(build.extension_modules),
        options,
        build.object_format,
    )
    interpreter = install / "bin" / f"python{facts['python_version_short']}{facts['abiflags']}"
    links_libpython = any(
        needed.startswith("libpython")
        for info in infos
        if info.path == interpreter
        for needed in info.needed
    )
    libc = target.libc_package(options)
    doc = build_python_json(
        facts,
        build_info,
        target,
        options,
        cpython,
        glibc,
        tcl_library_paths=tcl_library_dirs(install / "lib"),
        interpreter_links_libpython=links_libpython,
        libc_version=registry[libc].version if libc else None,
    )
    write_python_json(doc, python_dir)
    (python_dir / "build" / "image-packages.txt").write_text(packages_text)
    (python_dir / "build" / "inputs.json").write_bytes(build.inputs_record)
    sboms = render_sboms(
        bill_of_materials(
            cpython=cpython,
            libraries=build.libraries,
            triple=target.triple,
            options=options.name,
            tag=build.tag,
            timestamp=build.source_date_epoch,
            toolchain=build.toolchain,
            name=stem,
            archives=names,
            linked_against=linked_against(target, options),
        )
    )
    for kind, data in sboms.items():
        (python_dir / f"sbom{SBOM_SUFFIXES[kind]}").write_bytes(data)

    dist_dir.mkdir(parents=True, exist_ok=True)
    full = write_distribution_archive(
        python_dir,
        dist_dir / names["full"],
        group_order=FULL_ARCHIVE_ORDER,
        mtime=build.source_date_epoch,
    )
    # install_only's python/ is install/; the SBOMs join it only now, so that the full archive's
    # python/install/ stays the bare installation.
    for suffix in SBOM_SUFFIXES.values():
        shutil.copyfile(python_dir / f"sbom{suffix}", install / f"sbom{suffix}")
    install_only = write_install_only_archive(
        python_dir,
        dist_dir / names["install_only"],
        mtime=build.source_date_epoch,
        exclude=install_only_exclude(doc),
    )
    replace_with_stripped(install, out_dir / "stripped")
    stripped = write_install_only_archive(
        python_dir,
        dist_dir / names["install_only_stripped"],
        mtime=build.source_date_epoch,
        exclude=install_only_exclude(doc, optimized_bytecode=False),
    )
    sbom_paths = [dist_dir / sbom_names[kind] for kind in sboms]
    for path, data in zip(sbom_paths, sboms.values(), strict=True):
        with atomic_output(path) as out:
            out.write(data)
    sums = write_sha256sums(dist_dir, [full, install_only, stripped, *sbom_paths])
    stamp.write_text(
        json.dumps({"inputs": digest, "outputs": {p.name: _sha256(p) for p in outputs}}, indent=1)
    )
    log.info(f"newest GLIBC symbol version: {glibc}; ELF files checked: {len(infos)}")
    # The extracted artifact and the staged tree (over 1 GB per build) are in the archives now;
    # only the stamp is needed to know they are up to date. A failure above leaves them to look at.
    shutil.rmtree(out_dir)
    shutil.rmtree(python_dir.parent)
    return [full, install_only, stripped, *sbom_paths, sums]
