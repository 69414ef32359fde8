"""Rules on the ELF files: machine, libraries, run paths, GLIBC versions, symbols, hardening."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from elftools.common.exceptions import ELFError

from ..distribution.elf import ElfInfo, count_direct_calls, is_elf, read_elf, read_elf_header
from ..versions import version_tuple
from .data import (
    bundled_symbol_patterns,
    elf_kind,
    elf_loader,
    fortifiable_functions,
    hardening_exemptions,
)
from .findings import Distribution, Finding, examples

LOADED_TYPES = ("ET_EXEC", "ET_DYN")  # what the dynamic loader maps: executables, shared objects
_GLIBC_FEATURE = re.compile(r"^glibc-max-symbol-version:(.+)$")
# _FORTIFY_SOURCE turns a libc call whose buffer size the compiler knows into __<name>_chk;
# the stack protector's own functions share the suffix and say nothing about fortify.
_FORTIFIED = re.compile(r"^__\w+_chk$")
_STACK_PROTECTOR = {"__stack_chk_fail", "__stack_chk_guard"}


def scan(dist: Distribution) -> tuple[list[ElfInfo], list[Finding]]:
    """Every ELF file of the archive; install/ files read in full, the rest by header only."""
    infos, findings = [], []
    for path in sorted(dist.root.rglob("*")):
        if path.is_symlink() or not path.is_file() or not is_elf(path):
            continue
        in_install = path.is_relative_to(dist.install)
        try:
            infos.append(read_elf(path) if in_install else read_elf_header(path))
        except (ELFError, ValueError, OSError) as exc:
            findings.append(
                Finding(
                    dist.member(path),
                    "elf-readable",
                    f"a damaged ELF file ({exc})",
                    "well-formed ELF",
                )
            )
    return infos, findings


def check(dist: Distribution, infos: list[ElfInfo]) -> list[Finding]:
    installed = [i for i in infos if i.path.is_relative_to(dist.install)]
    loaded = [i for i in installed if i.elf_type in LOADED_TYPES]
    return [
        *_machine(dist, infos),
        *_needed(dist, loaded),
        *_loader(dist, loaded),
        *_runpaths(dist, loaded),
        *_glibc(dist, loaded),
        *_unresolved_imports(dist, loaded),
        *_bundled_symbols(dist, loaded),
        *_linker_hardening(dist, loaded),
        *_compiler_hardening(dist, loaded),
    ]


def _machine(dist: Distribution, infos: list[ElfInfo]) -> Iterator[Finding]:
    expected = elf_kind(dist.target.gnu_triple.split("-")[0])
    for info in infos:
        if info.kind != expected:
            yield Finding(
                dist.member(info.path), "elf-machine", info.kind,
                f"{expected} ({dist.target.triple})",
            )  # fmt: skip


def _needed(dist: Distribution, loaded: list[ElfInfo]) -> Iterator[Finding]:
    if dist.options.static:  # one executable with everything linked in
        for info in loaded:
            for needed in info.needed:
                yield Finding(
                    dist.member(info.path),
                    "needed-library",
                    f"DT_NEEDED {needed}",
                    f"none ({dist.options.name} links everything statically)",
                )
        return
    # A library the archive ships itself (libpython3.so needs libpython3.X.so.1.0) is fine.
    shipped = {info.path.name for info in loaded}
    allowed = set(dist.target.needed_libraries)
    for info in loaded:
        for needed in info.needed:
            if needed not in allowed and needed not in shipped:
                yield Finding(
                    dist.member(info.path),
                    "needed-library",
                    f"DT_NEEDED {needed}",
                    f"{', '.join(sorted(allowed))} (needed_libraries in targets.yml) or a "
                    "library the archive ships",
                )


def _loader(dist: Distribution, loaded: list[ElfInfo]) -> Iterator[Finding]:
    """Executables name the loader of the target's C library, or none when static."""
    cpu = dist.target.gnu_triple.split("-")[0]
    expected = None if dist.options.static else elf_loader(cpu, dist.target.libc)
    allowed = (
        f"no PT_INTERP ({dist.options.name} is one static executable)"
        if dist.options.static
        else f"{expected} ({dist.target.libc} on {cpu})"
    )
    for info in loaded:
        if info.interpreter is not None and info.interpreter != expected:
            yield Finding(
                dist.member(info.path), "loader", f"PT_INTERP {info.interpreter}", allowed
            )


def _runpaths(dist: Distribution, loaded: list[ElfInfo]) -> Iterator[Finding]:
    for info in loaded:
        for runpath in info.runpaths:
            for entry in runpath.split(":"):
                if not (entry.startswith("$ORIGIN") or entry.startswith("${ORIGIN}")):
                    yield Finding(
                        dist.member(info.path),
                        "runpath",
                        f"RPATH/RUNPATH entry {entry!r}",
                        "only $ORIGIN-relative entries",
                    )


def _glibc(dist: Distribution, loaded: list[ElfInfo]) -> Iterator[Finding]:
    floor = dist.target.glibc_floor
    if floor is None:  # another C library: nothing may need glibc's versioned symbols
        for info in loaded:
            if info.glibc_versions:
                yield Finding(
                    dist.member(info.path),
                    "glibc-version",
                    f"GLIBC_{max(info.glibc_versions, key=version_tuple)}",
                    f"no GLIBC symbol versions ({dist.target.triple} links {dist.target.libc})",
                )
        return
    newest_overall: str | None = None
    for info in loaded:
        if not info.glibc_versions:
            continue
        newest = max(info.glibc_versions, key=version_tuple)
        if newest_overall is None or version_tuple(newest) > version_tuple(newest_overall):
            newest_overall = newest
        if version_tuple(newest) > version_tuple(floor):
            yield Finding(
                dist.member(info.path),
                "glibc-version",
                f"GLIBC_{newest}",
                f"GLIBC_{floor} or older (glibc_floor of {dist.target.triple})",
            )
    declared = [
        m.group(1)
        for feature in dist.doc.get("crt_features") or []
        if isinstance(feature, str) and (m := _GLIBC_FEATURE.match(feature))
    ]
    if newest_overall is not None and declared != [newest_overall]:
        yield Finding(
            dist.member("PYTHON.json"),
            "glibc-version",
            f"crt_features glibc-max-symbol-version {', '.join(declared) or '(none)'}",
            f"glibc-max-symbol-version:{newest_overall}, the newest GLIBC version the ELF "
            "files need",
        )


def _unresolved_imports(dist: Distribution, loaded: list[ElfInfo]) -> Iterator[Finding]:
    """On glibc every C library function a file binds carries the symbol version of the glibc
    (of the floor's stubs) it was linked against. A non-weak import with no version that no file
    of the archive defines was defined by no library at link time: most likely a function the
    floor's glibc lacks, which the loader of such a system cannot resolve, and which the
    glibc-version rule cannot see. (musl has no symbol versions; +static imports nothing.)"""
    if dist.target.glibc_floor is None or dist.options.static:
        return
    defined = set().union(*(info.exported for info in loaded))
    for info in loaded:
        unresolved = info.unversioned_imports - defined
        if unresolved:
            yield Finding(
                dist.member(info.path),
                "unresolved-import",
                f"imports {examples(unresolved, 5)} with no symbol version, defined nowhere "
                "in the archive",
                f"every import versioned by a library or defined in the archive (a function "
                f"glibc {dist.target.glibc_floor} lacks would fail to load there)",
            )


def _bundled_symbols(dist: Distribution, loaded: list[ElfInfo]) -> Iterator[Finding]:
    patterns = bundled_symbol_patterns()
    for info in loaded:
        leaked: dict[str, set[str]] = {}
        for name in info.exported:
            # A symbol counts for the first library whose patterns match it.
            for library, pattern in patterns.items():
                if pattern.fullmatch(name):
                    leaked.setdefault(library, set()).add(name)
                    break
        for library, names in sorted(leaked.items()):
            yield Finding(
                dist.member(info.path),
                "bundled-symbols",
                f"{len(names)} exported {library} symbols ({examples(names)})",
                "bundled libraries' symbols hidden (pythonbuild/resources/validate/"
                "bundled-symbols.yml)",
            )


def _linker_hardening(dist: Distribution, loaded: list[ElfInfo]) -> Iterator[Finding]:
    # The linker decides these for every file it writes, whatever code went in: they apply to
    # every executable and shared object.
    for info in loaded:
        member = dist.member(info.path)
        if info.executable_stack:
            found = "no PT_GNU_STACK" if info.gnu_stack_flags is None else "PT_GNU_STACK RWX"
            yield Finding(member, "noexecstack", found, "PT_GNU_STACK without X (-z noexecstack)")
        if not info.has_relro:
            yield Finding(member, "relro", "no PT_GNU_RELRO", "PT_GNU_RELRO (-z relro)")
        if not info.bind_now:
            yield Finding(member, "bind-now", "no DF_BIND_NOW or DF_1_NOW", "BIND_NOW (-z now)")
        if info.textrel:
            yield Finding(member, "no-textrel", "DT_TEXTREL", "no text relocations (-fPIC code)")


def compiled_code_roles(dist: Distribution) -> dict[Path, str]:
    """The files whose C code the compiler hardening must show in: path -> role.

    The interpreter, libpython and the shared extension modules hold all of CPython's C code
    and the bundled libraries; their size guarantees functions with local arrays (which
    -fstack-protector-strong instruments) and libc calls on buffers of known size (which
    _FORTIFY_SOURCE checks). libpython3.so is left out: it is only a DT_NEEDED stub for the
    stable ABI, with no code of its own.
    """
    doc = dist.doc
    roles = {dist.doc_path(doc["python_exe"]): "interpreter"}
    core = doc["build_info"]["core"]
    if "shared_lib" in core:
        roles[dist.doc_path(core["shared_lib"])] = "libpython"
    for name, variants in doc["build_info"]["extensions"].items():
        for variant in variants:
            if "shared_lib" in variant:
                roles[dist.doc_path(variant["shared_lib"])] = name
    return roles


def _compiler_hardening(dist: Distribution, loaded: list[ElfInfo]) -> Iterator[Finding]:
    try:
        roles = compiled_code_roles(dist)
    except (KeyError, TypeError, AttributeError):
        return  # an invalid PYTHON.json is reported by the document rules
    stack_exempt = hardening_exemptions("stack-protector")
    fortify_exempt = hardening_exemptions("fortify")
    fortifiable = fortifiable_functions()
    # Only where the target compiles with it: musl's headers have no checked variants.
    fortify_promised = any(f.startswith("-D_FORTIFY_SOURCE") for f in dist.target.target_cflags)
    for info in loaded:
        role = roles.get(info.path)
        if role is None:
            continue
        member = dist.member(info.path)
        if dist.options.static:  # nothing is imported: count the calls in the code instead
            calls = count_direct_calls(info.path, "__stack_chk_fail") or 0
            if role not in stack_exempt and calls == 0:
                yield Finding(
                    member,
                    "stack-protector",
                    "no call to __stack_chk_fail in its code",
                    "code compiled with -fstack-protector-strong",
                )
        elif role not in stack_exempt and not (info.imported & _STACK_PROTECTOR):
            yield Finding(
                member,
                "stack-protector",
                "no reference to __stack_chk_fail",
                "code compiled with -fstack-protector-strong",
            )
        fortified = {n for n in info.imported if _FORTIFIED.match(n)} - _STACK_PROTECTOR
        could_fortify = bool(info.imported & fortifiable)
        if fortify_promised and role not in fortify_exempt and could_fortify and not fortified:
            yield Finding(
                member,
                "fortify",
                "no __*_chk function referenced",
                "code compiled with -D_FORTIFY_SOURCE=2 and optimization",
            )
