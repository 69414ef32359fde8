"""What a relinker needs: which objects and libraries make up libpython and each extension.

Inputs are the CPython build container's exports (see docs/python-json.md):

- ``out/build-tree/``: object files at their build-relative paths, ``Modules/Setup.*``,
  ``Modules/config.c``, ``make-vars.json`` (Makefile variables as make expanded them);
- ``out/deps/lib/*.a``: the bundled libraries;
- ``out/install/``: the installation.

:func:`collect_build_artifacts` turns them into :class:`BuildArtifacts`; :func:`layout_build_objects`
copies the files into ``python/build/`` at PBS's paths (``build/<build-relative path>``,
``build/lib/lib<name>.a``), which PYTHON.json's ``build_info`` then names.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import BuildError
from ..targets import Target
from .setupfiles import (
    SETUP_FILES,
    ModuleRule,
    internal_archives,
    module_link_words,
    parse_inittab,
    parse_setup_text,
    read_setup_rules,
)

# ``make install`` ran with --prefix=/install, so build-time paths in sysconfig say /install.
CONFIGURED_PREFIX = "/install"
BUILD_DIR = "build"
BUNDLED_LIB_DIR = f"{BUILD_DIR}/lib"
INITTAB_SOURCE = "Modules/config.c"
RUN_TESTS = f"{BUILD_DIR}/run_tests.py"


@dataclass(frozen=True)
class Link:
    """A library an object set needs at link time: bundled in ``build/lib`` or from the system."""

    name: str
    bundled: bool

    def to_json(self) -> dict:
        if self.bundled:
            return {"name": self.name, "path_static": f"{BUNDLED_LIB_DIR}/lib{self.name}.a"}
        return {"name": self.name, "system": True}


@dataclass(frozen=True)
class ExtensionBuild:
    name: str
    kind: str  # "builtin": objects in libpython; "shared": lib-dynload; "core": inittab only
    init_fn: str
    objs: tuple[str, ...]  # relative to the build tree
    links: tuple[Link, ...]
    required: bool  # CPython lists it in Setup.bootstrap: the interpreter cannot start without it


@dataclass(frozen=True)
class BuildArtifacts:
    core_objs: tuple[str, ...]
    core_links: tuple[Link, ...]
    extensions: dict[str, ExtensionBuild]
    bundled_libs: tuple[str, ...]  # file names under out/deps/lib
    libpython_static: str  # relative to python/
    libpython_static_source: Path | None  # copied into build/lib when install/ has no copy


def read_build_export(path: Path, producer: str) -> dict:
    """A JSON file the CPython build container exported; ``producer`` names what writes it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BuildError(f"{path} is missing; the CPython build must {producer}") from None
    except json.JSONDecodeError as exc:
        raise BuildError(f"{path} is not JSON ({exc}); the CPython build must {producer}") from None


def load_make_vars(build_tree: Path) -> dict[str, str]:
    path = build_tree / "make-vars.json"
    data = read_build_export(path, "export make-vars.json")
    missing = [k for k in ("LIBRARY_OBJS", "MODOBJS", "LIBS", "LIBRARY") if k not in data]
    if missing:
        raise BuildError(f"{path} lacks make variables: {', '.join(missing)}")
    return {str(k): str(v) for k, v in data.items()}


def system_library_names(target: Target) -> set[str]:
    """``-l`` names the target allows from the system: libm.so.6 -> m, and the names its C
    library answers itself (musl's libc.so is also its libm, libdl, libpthread, ...)."""
    names = set(target.libc_link_names) | set(target.runtime_link_names)
    for soname in target.needed_libraries:
        match = re.match(r"lib(.+?)\.so", soname)
        if match:
            names.add(match.group(1))
    return names


def parse_links(
    words: Iterable[str],
    bundled: set[str],
    archives: Mapping[str, tuple[str, ...]],
    where: str,
) -> tuple[list[Link], list[str]]:
    """Linker words -> (libraries, objects of CPython helper archives the words name)."""
    links: list[Link] = []
    objs: list[str] = []
    words = list(words)
    while words:
        word = words.pop(0)
        name = None
        if word in ("-Xlinker", "-u"):
            words[:1] = []  # the argument is a linker option or a symbol, not a library
        elif word.startswith("-l:"):
            # -l:libfoo.a asks for a static archive by file name; only bundled ones exist.
            name = word[len("-l:lib") : -len(".a")]
            if not (word.startswith("-l:lib") and word.endswith(".a") and name in bundled):
                raise BuildError(f"{where} links {word}, which is not a bundled static library")
        elif word == "-pthread":
            name = "pthread"  # the compiler driver's spelling of -lpthread (plus -D_REENTRANT)
        elif word.startswith("-l"):
            name = word[2:]
        elif word in archives:
            objs += archives[word]
        elif word.endswith(".a") and PurePosixPath(word).name.startswith("lib"):
            name = PurePosixPath(word).name[3:-2]
            if name not in bundled:
                raise BuildError(
                    f"{where} links {word}, which is neither bundled nor CPython's own"
                )
        elif not word.startswith(("-L", "-Wl,")):
            raise BuildError(f"{where}: unexpected linker word {word!r}")
        if name and all(link.name != name for link in links):
            links.append(Link(name, name in bundled))
    return links, objs


def _check_system_links(
    links: Iterable[Link], allowed: set[str], where: str, target: Target
) -> None:
    for link in links:
        if not link.bundled and link.name not in allowed:
            raise BuildError(
                f"{where} links system library {link.name!r}, which targets.yml does not allow "
                f"for {target.triple} (needed_libraries); bundle it or allow it"
            )


def _module_extension(
    rule: ModuleRule,
    make_vars: Mapping[str, str],
    bundled: set[str],
    archives: Mapping[str, tuple[str, ...]],
    inittab: Mapping[str, str],
    bootstrap: set[str],
) -> ExtensionBuild:
    where = f"module {rule.name} ({rule.origin})"
    links, archive_objs = parse_links(module_link_words(rule, make_vars), bundled, archives, where)
    objs = tuple(dict.fromkeys([*rule.objects, *archive_objs]))
    if rule.section == "static":
        if rule.name not in inittab:
            raise BuildError(f"{where} is static but Modules/config.c does not register it")
        init_fn = inittab[rule.name]
    else:
        init_fn = f"PyInit_{rule.name}"
    kind = "builtin" if rule.section == "static" else "shared"
    return ExtensionBuild(rule.name, kind, init_fn, objs, tuple(links), rule.name in bootstrap)


def collect_build_artifacts(out_dir: Path, facts: Mapping, target: Target) -> BuildArtifacts:
    """Read the build container's exports and decide which object belongs to what."""
    build_tree = out_dir / "build-tree"
    make_vars = load_make_vars(build_tree)
    rules = read_setup_rules(build_tree)
    inittab = parse_inittab((build_tree / INITTAB_SOURCE).read_text())
    bootstrap_text = (build_tree / "Modules" / "Setup.bootstrap").read_text()
    bootstrap = {r.name for r in parse_setup_text(bootstrap_text, "Setup.bootstrap")}
    bundled_files = sorted(p.name for p in (out_dir / "deps" / "lib").glob("lib*.a"))
    bundled = {name[3:-2] for name in bundled_files}
    archives = internal_archives(make_vars)
    allowed = system_library_names(target)

    extensions: dict[str, ExtensionBuild] = {}
    for rule in rules.values():
        if rule.section == "disabled":
            continue
        ext = _module_extension(rule, make_vars, bundled, archives, inittab, bootstrap)
        _check_system_links(ext.links, allowed, f"module {rule.name}", target)
        extensions[rule.name] = ext
    for name, init_fn in inittab.items():
        if name not in extensions:  # defined by CPython's core itself (marshal, sys, _imp, ...)
            extensions[name] = ExtensionBuild(name, "core", init_fn, (), (), True)

    _check_against_makefile(rules, extensions, make_vars)
    _check_against_interpreter(extensions, facts)
    claimed = {o for e in extensions.values() if e.kind == "builtin" for o in e.objs}
    core_objs = tuple(
        dict.fromkeys(o for o in make_vars["LIBRARY_OBJS"].split() if o not in claimed)
    )
    link_words = f"{make_vars['LIBS']} {make_vars.get('SYSLIBS', '')}".split()
    core_links, _ = parse_links(link_words, bundled, archives, "libpython (LIBS)")
    _check_system_links(core_links, allowed, "libpython", target)
    for obj in [*core_objs, *(o for e in extensions.values() for o in e.objs)]:
        if not (build_tree / obj).is_file():
            raise BuildError(f"object file {obj} is missing from {build_tree}")

    libpython = make_vars["LIBRARY"]
    installed = f"{install_relative(facts['config_vars']['LIBPL'], facts)}/{libpython}"
    if (out_dir / installed).is_file():
        static_lib, source = installed, None
    else:
        static_lib, source = f"{BUNDLED_LIB_DIR}/{libpython}", build_tree / libpython
        if not source.is_file():
            raise BuildError(f"{source} is missing; the CPython build must export {libpython}")
    return BuildArtifacts(
        core_objs, tuple(core_links), dict(sorted(extensions.items())),
        tuple(bundled_files), static_lib, source,
    )  # fmt: skip


def _check_against_makefile(
    rules: Mapping[str, ModuleRule], extensions: Mapping[str, ExtensionBuild], make_vars: Mapping
) -> None:
    """Our reading of the Setup files must agree with the objects makesetup put in MODOBJS."""
    modobjs = set(make_vars["MODOBJS"].split())
    for ext in extensions.values():
        if ext.kind == "builtin":
            stray = [o for o in rules[ext.name].objects if o not in modobjs]
            if stray:
                raise BuildError(
                    f"Setup rule for {ext.name} names {stray[0]}, which makesetup did not put in "
                    "MODOBJS; the Setup files and the Makefile disagree"
                )


def _check_against_interpreter(extensions: Mapping[str, ExtensionBuild], facts: Mapping) -> None:
    """The built interpreter must report exactly the builtin modules and .so files we describe."""
    builtin = {n for n, e in extensions.items() if e.kind in ("builtin", "core")}
    reported = set(facts["builtin_module_names"])
    if builtin != reported:
        diff = sorted(builtin ^ reported)
        raise BuildError(
            f"builtin modules disagree with sys.builtin_module_names: {', '.join(diff)}"
        )
    suffix = facts["config_vars"]["EXT_SUFFIX"]
    present = set(facts["lib_dynload"]["files"])
    for ext in extensions.values():
        if ext.kind == "shared" and f"{ext.name}{suffix}" not in present:
            raise BuildError(f"shared module {ext.name} is not in lib-dynload ({ext.name}{suffix})")


def install_relative(path: str, facts: Mapping) -> str:
    """An absolute path of the installation -> its place in python/ (``install/...``).

    Build-time values spell the prefix /install; values the interpreter computed at run time
    spell the directory it ran from when the facts were collected.  Both map to ``install``.
    """
    for prefix in (facts["prefix"], CONFIGURED_PREFIX):
        try:
            rel = PurePosixPath(path).relative_to(prefix)
        except ValueError:
            continue
        return str(PurePosixPath("install") / rel)
    raise BuildError(
        f"{path} is outside the installation ({facts['prefix']} or {CONFIGURED_PREFIX})"
    )


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)  # contents only: archive timestamps are normalized later
    dest.chmod(0o644)


def layout_build_objects(out_dir: Path, python_dir: Path, artifacts: BuildArtifacts) -> None:
    """Populate ``python/build/``: objects, bundled libraries, inittab source, Setup files."""
    build_tree = out_dir / "build-tree"
    build = python_dir / BUILD_DIR
    objs = [*artifacts.core_objs, *(o for e in artifacts.extensions.values() for o in e.objs)]
    for obj in dict.fromkeys(objs):
        _copy(build_tree / obj, build / obj)
    for name in artifacts.bundled_libs:
        _copy(out_dir / "deps" / "lib" / name, build / "lib" / name)
    if artifacts.libpython_static_source is not None:
        _copy(artifacts.libpython_static_source, python_dir / artifacts.libpython_static)
    # Consumers regenerate config.c to choose builtin modules; the Setup files record why each
    # module was built the way it was.
    for rel in [INITTAB_SOURCE, *(f"Modules/{n}" for n in SETUP_FILES)]:
        if (build_tree / rel).is_file():
            _copy(build_tree / rel, build / rel)
    (python_dir / RUN_TESTS).parent.mkdir(parents=True, exist_ok=True)
    (python_dir / RUN_TESTS).write_text(RUN_TESTS_SCRIPT)


RUN_TESTS_SCRIPT = '''\
"""Run CPython's regression suite (``python -m test``) with this distribution's interpreter.

Usage: run_tests.py [regrtest arguments]; without arguments, every test that needs neither
network access, a display, audio hardware nor large amounts of disk runs in parallel.
"""

import json
import os
import sys
from pathlib import Path

DIST = Path(__file__).resolve().parent.parent
DEFAULT_ARGS = ["-j0", "-u", "all,-network,-urlfetch,-gui,-audio,-largefile"]


def main() -> None:
    python = DIST / json.loads((DIST / "PYTHON.json").read_text())["python_exe"]
    args = sys.argv[1:] or DEFAULT_ARGS
    os.execv(python, [str(python), "-m", "test", *args])


if __name__ == "__main__":
    main()
'''
