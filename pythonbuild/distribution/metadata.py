"""PYTHON.json (python-build-standalone distribution format version 8) and ``python/licenses/``.

The document is assembled from three sources, each authoritative for its part:

- ``facts.json``: what the built interpreter reports about itself (``cpython-unix/collect-facts.py``);
- :class:`~pythonbuild.distribution.buildinfo.BuildArtifacts`: which objects and libraries make
  up what;
- the build request (target, options) and the source registry (licenses).

docs/python-json.md describes every key; ``resources/python-json-v8.schema.json`` checks the shape.
"""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path, PurePosixPath

import jsonschema

from ..errors import BuildError
from ..options import BuildOptions
from ..paths import RESOURCES
from ..registry import Registry, Source
from ..targets import Target
from ..versions import version_tuple
from .buildinfo import (
    CONFIGURED_PREFIX,
    INITTAB_SOURCE,
    RUN_TESTS,
    BuildArtifacts,
    ExtensionBuild,
    collect_build_artifacts,
    install_relative,
    layout_build_objects,
    read_build_export,
)
from .debfile import open_deb_data

# The build driver's entry points; the two from buildinfo are re-exported for one import.
__all__ = [
    "build_info_section",
    "build_python_json",
    "check_document_paths",
    "collect_build_artifacts",
    "extension_libraries",
    "layout_build_objects",
    "load_facts",
    "tcl_library_dirs",
    "validate_python_json",
    "write_licenses",
    "write_python_json",
]

FORMAT_VERSION = "8"
SCHEMA_PATH = RESOURCES / "python-json-v8.schema.json"
LICENSES_DIR = "licenses"
# SPDX ids that are public-domain dedications rather than licenses (SQLite's "blessing").
PUBLIC_DOMAIN_LICENSES = frozenset({"blessing"})
# PEP 425 abbreviations; only CPython is built here.
IMPLEMENTATION_TAGS = {"cpython": "cp"}


def load_facts(path: Path) -> dict:
    facts = read_build_export(path, "run collect-facts.py")
    if facts.get("format") != 1:
        raise BuildError(
            f"{path} has facts format {facts.get('format')!r}; this build reads format 1"
        )
    return facts


# Directories of Tcl and Tk script libraries under install/lib: tcl8.6 and tk8.6 (the libraries),
# tcl8 (Tcl modules, *.tm).
_TCL_LIBRARY_DIR = re.compile(r"(tcl|tk)\d+(\.\d+)?")


def tcl_library_dirs(lib_dir: Path) -> list[str]:
    """The Tcl/Tk script library directories in ``lib_dir`` (install/lib), by name.

    PYTHON.json's ``tcl_library_paths``; empty when the distribution ships no Tcl.
    """
    if not lib_dir.is_dir():
        return []
    return sorted(
        p.name for p in lib_dir.iterdir() if p.is_dir() and _TCL_LIBRARY_DIR.fullmatch(p.name)
    )


def extension_libraries(modules: Mapping[str, Mapping]) -> dict[str, tuple[str, ...]]:
    """Module name -> registry packages linked into it, from extension-modules.yml entries."""
    return {name: tuple(entry.get("libraries", ())) for name, entry in modules.items()}


def license_file_name(source: Source) -> str:
    """File name of a component's license under python/licenses (PBS: LICENSE.<name>.txt)."""
    name = "cpython" if source.name.startswith("cpython-") else source.project
    return f"LICENSE.{name}.txt"


def write_licenses(
    dest_dir: Path, sources: Iterable[Source], tarball_for: Callable[[Source], Path]
) -> dict[str, Path]:
    """Extract each source's license text from its tarball into ``dest_dir``; name -> file."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for source in sources:
        dest = dest_dir / license_file_name(source)
        dest.write_bytes(_read_license_text(source, tarball_for(source)))
        written[source.name] = dest
    return written


def _read_license_text(source: Source, tarball: Path) -> bytes:
    try:
        if source.is_debian_binary_package:
            with open_deb_data(tarball) as archive:
                found = _license_member_text(source, archive)
        elif source.is_wheel:
            found = _wheel_member_text(source, tarball)
        else:
            with tarfile.open(tarball, "r:*") as archive:
                found = _license_member_text(source, archive)
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise BuildError(f"cannot read {tarball} for {source.name}'s license: {exc}") from None
    if found is None:
        raise BuildError(
            f"{source.name}: license file {source.license_file} not found in {tarball.name} "
            f"(after stripping {source.strip_components} leading directories); fix "
            "license_file in downloads.yml"
        )
    return found


def _wheel_member_text(source: Source, wheel: Path) -> bytes | None:
    with zipfile.ZipFile(wheel) as archive:
        try:
            return archive.read(source.license_file)
        except KeyError:
            return None


def _license_member_text(source: Source, archive: tarfile.TarFile) -> bytes | None:
    wanted = PurePosixPath(source.license_file)
    for member in archive:
        # PurePosixPath drops a leading "./" (how .deb data archives name their members).
        parts = PurePosixPath(member.name).parts[source.strip_components :]
        if not parts or PurePosixPath(*parts) != wanted:
            continue
        if not member.isfile():
            raise BuildError(f"{source.name}: {member.name} is not a file")
        extracted = archive.extractfile(member)
        assert extracted is not None  # isfile() members always extract
        return extracted.read()
    return None


def _extension_json(
    ext: ExtensionBuild,
    registry: Registry,
    libraries: Sequence[str],
    facts: Mapping,
    lib_dynload: str,
) -> dict:
    entry: dict = {
        "in_core": ext.kind == "core",
        "init_fn": ext.init_fn,
        "links": [link.to_json() for link in ext.links],
        "objs": [f"build/{o}" for o in ext.objs],
        "required": ext.required,
        "variant": "default",
    }
    if ext.kind == "shared":
        entry["shared_lib"] = f"{lib_dynload}/{ext.name}{facts['config_vars']['EXT_SUFFIX']}"
    if any(link.bundled for link in ext.links) and not libraries:
        raise BuildError(
            f"extension {ext.name} links bundled libraries but extension-modules.yml lists no "
            "`libraries` for it, so its licenses are unknown; add them"
        )
    if libraries:
        # Like PBS: keys are present only when libraries are linked; absent means "no extra terms".
        sources = [registry[name] for name in libraries]
        entry["licenses"] = sorted({spdx for s in sources for spdx in s.licenses})
        entry["license_paths"] = sorted(f"{LICENSES_DIR}/{license_file_name(s)}" for s in sources)
        entry["license_public_domain"] = all(
            set(s.licenses) <= PUBLIC_DOMAIN_LICENSES for s in sources
        )
    return entry


def build_info_section(
    artifacts: BuildArtifacts,
    facts: Mapping,
    registry: Registry,
    module_libraries: Mapping[str, Sequence[str]],
    options: BuildOptions,
    object_file_format: str = "elf",
) -> dict:
    """``build_info``: every path relative to python/."""
    if options.lto and object_file_format == "elf":
        raise BuildError("LTO objects are compiler IR, not ELF; pass the object_file_format")
    config = facts["config_vars"]
    core: dict = {
        "objs": [f"build/{o}" for o in artifacts.core_objs],
        "links": [link.to_json() for link in artifacts.core_links],
        "static_lib": artifacts.libpython_static,
    }
    if str(config.get("Py_ENABLE_SHARED")) == "1":
        core["shared_lib"] = install_relative(f"{config['LIBDIR']}/{config['INSTSONAME']}", facts)
    lib_dynload = install_relative(facts["lib_dynload"]["path"], facts)
    extensions = {
        name: [_extension_json(ext, registry, module_libraries.get(name, ()), facts, lib_dynload)]
        for name, ext in artifacts.extensions.items()
    }
    # config.c only needs the core's headers; NDEBUG must match how the core was compiled.
    cflags = ["-std=c11", *([] if options.debug else ["-DNDEBUG"]), "-DPy_BUILD_CORE"]
    return {
        "core": core,
        "extensions": extensions,
        "inittab_object": f"build/{INITTAB_SOURCE[:-2]}.o",
        "inittab_source": f"build/{INITTAB_SOURCE}",
        "inittab_cflags": cflags,
        "object_file_format": object_file_format,
    }


def _crt_features(
    target: Target,
    glibc_max_symbol_version: str | None,
    libc_version: str | None,
    static: bool = False,
) -> list[str]:
    """What the binaries need of the C library. musl: the version linked against is the floor
    (musl has no symbol versions, so nothing in the binaries records it); +static: nothing,
    the C library is inside (the version says which)."""
    if target.libc == "musl":
        if glibc_max_symbol_version is not None:
            raise BuildError(
                f"a musl build for {target.triple} needs GLIBC_{glibc_max_symbol_version}"
            )
        if not libc_version:
            raise BuildError(f"no musl version for {target.triple}'s C runtime description")
        return ["static" if static else "musl-dynamic", f"musl-version:{libc_version}"]
    if target.libc != "glibc" or target.glibc_floor is None:
        raise BuildError(f"no C runtime description for {target.triple} ({target.libc})")
    if not glibc_max_symbol_version or not re.fullmatch(r"\d+\.\d+", glibc_max_symbol_version):
        raise BuildError(f"glibc max symbol version {glibc_max_symbol_version!r} is not X.Y")
    if version_tuple(glibc_max_symbol_version) > version_tuple(target.glibc_floor):
        raise BuildError(
            f"binaries need GLIBC_{glibc_max_symbol_version}, newer than {target.triple}'s floor "
            f"{target.glibc_floor}"
        )
    return ["glibc-dynamic", f"glibc-max-symbol-version:{glibc_max_symbol_version}"]


def python_config_vars(facts: Mapping) -> dict[str, str]:
    """sysconfig's variables as strings, as PBS publishes them.

    Variables computed at run time spell the directory the interpreter ran from while the
    facts were collected; that directory means nothing to users, so it is spelled like the
    configured prefix the build-time values use.
    """
    runtime_prefix = facts["prefix"]
    return {
        key: str(value).replace(runtime_prefix, CONFIGURED_PREFIX)
        for key, value in sorted(facts["config_vars"].items())
    }


def build_python_json(
    facts: Mapping,
    build_info: dict,
    target: Target,
    options: BuildOptions,
    cpython: Source,
    glibc_max_symbol_version: str | None,
    tcl_library_paths: Sequence[str] | None = None,
    interpreter_links_libpython: bool | None = None,
    libc_version: str | None = None,
) -> dict:
    """The PYTHON.json document; ``tcl_library_paths`` (under install/lib) only when Tcl ships."""
    impl = facts["implementation"]
    if impl["name"] not in IMPLEMENTATION_TAGS:
        raise BuildError(f"no PEP 425 tag for implementation {impl['name']!r}")
    if facts["python_version"] != cpython.version:
        raise BuildError(
            f"the built interpreter says {facts['python_version']}, the registry pins "
            f"{cpython.name} {cpython.version}; the build used the wrong source"
        )
    major, minor = facts["version_info"][:2]
    interpreter_tag = f"{IMPLEMENTATION_TAGS[impl['name']]}{major}{minor}"
    config = facts["config_vars"]
    # How the python executable gets libpython (a shared libpython may still ship for embedders).
    shared = (
        str(config.get("Py_ENABLE_SHARED")) == "1"
        if interpreter_links_libpython is None
        else interpreter_links_libpython
    )
    doc = {
        "version": FORMAT_VERSION,
        "target_triple": target.triple,
        "optimizations": options.optimization,
        "build_options": options.name,
        "python_tag": interpreter_tag,
        # What PBS's builds write (its consumers read these), not the PEP 425 spelling.
        "python_abi_tag": facts["abiflags"],
        "python_platform_tag": facts["platform"],
        "python_implementation_cache_tag": impl["cache_tag"],
        "python_implementation_hex_version": impl["hexversion"],
        "python_implementation_name": impl["name"],
        "python_implementation_version": [str(part) for part in impl["version"]],
        "python_version": facts["python_version"],
        "python_major_minor_version": facts["python_version_short"],
        "python_paths": {k: install_relative(v, facts) for k, v in sorted(facts["paths"].items())},
        "python_paths_abstract": dict(sorted(facts["paths_abstract"].items())),
        "python_config_vars": python_config_vars(facts),
        "python_exe": f"install/bin/python{facts['python_version_short']}{facts['abiflags']}",
        "python_stdlib_platform_config": install_relative(config["LIBPL"], facts),
        "python_stdlib_test_packages": sorted(facts["stdlib_test_packages"]),
        "python_suffixes": {k: list(v) for k, v in sorted(facts["suffixes"].items())},
        "python_bytecode_magic_number": facts["magic_number"],
        "python_symbol_visibility": "global-default",
        # A static python has no loader to load extension modules with.
        "python_extension_module_loading": (
            ["builtin"] if options.static else ["builtin", "shared-library"]
        ),
        "libpython_link_mode": "shared" if shared else "static",
        "crt_features": _crt_features(
            target, glibc_max_symbol_version, libc_version, static=options.static
        ),
        "run_tests": RUN_TESTS,
        "build_info": build_info,
        "licenses": list(cpython.licenses),
        "license_path": f"{LICENSES_DIR}/{license_file_name(cpython)}",
    }
    if tcl_library_paths:
        doc["tcl_library_path"] = "install/lib"
        doc["tcl_library_paths"] = list(tcl_library_paths)
    return doc


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_python_json(doc: Mapping) -> None:
    """Raise BuildError naming the first place ``doc`` breaks the v8 schema."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
        raise BuildError(f"PYTHON.json is invalid at {where}: {message}")


def referenced_paths(doc: Mapping) -> list[str]:
    """Every file or directory the document promises exists under python/."""
    info = doc["build_info"]
    paths = [doc["python_exe"], doc["python_stdlib_platform_config"], doc["run_tests"]]
    paths += [doc["license_path"], info["inittab_object"], info["inittab_source"]]
    paths += list(doc["python_paths"].values()) + info["core"]["objs"]
    paths += [info["core"][k] for k in ("static_lib", "shared_lib") if k in info["core"]]
    for link in info["core"]["links"]:
        paths += [link["path_static"]] if "path_static" in link else []
    for entry in (e for entries in info["extensions"].values() for e in entries):
        paths += entry["objs"] + entry.get("license_paths", [])
        paths += [entry["shared_lib"]] if "shared_lib" in entry else []
        paths += [link["path_static"] for link in entry["links"] if "path_static" in link]
    if "tcl_library_path" in doc:
        paths += [f"{doc['tcl_library_path']}/{p}" for p in doc["tcl_library_paths"]]
    return sorted(set(paths))


def check_document_paths(doc: Mapping, python_dir: Path) -> None:
    """Raise BuildError if a path the document names does not exist in the distribution."""
    missing = [p for p in referenced_paths(doc) if not (python_dir / p).exists()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BuildError(f"PYTHON.json names {missing[0]}, which is not in {python_dir}{more}")


def write_python_json(doc: Mapping, python_dir: Path) -> Path:
    """Validate and write ``python/PYTHON.json`` (sorted keys, so equal builds give equal bytes)."""
    validate_python_json(doc)
    path = python_dir / "PYTHON.json"
    path.write_text(json.dumps(doc, indent=4, sort_keys=True) + "\n")
    return path
