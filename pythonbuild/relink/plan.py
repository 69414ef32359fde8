"""What a relink compiles and links, read from PYTHON.json alone (docs/relinking.md).

A full archive's ``build_info`` names every object and library of libpython and of each
extension module; this module turns it, and the user's choices, into the exact commands a
compiler runs: compile a new table of built-in modules (``config.c``) and a ``main``, then link
them with the core objects, the kept modules' objects and their libraries.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import UsageError

# The objects' paths are relative to python/ in the archive; the commands run there.
CONFIG_SOURCE = "relink/config.c"
CONFIG_OBJECT = "relink/config.o"
MAIN_SOURCE = "relink/main.c"
MAIN_OBJECT = "relink/main.o"
COMPILER = "target-clang"

# CPython's own Programs/python.c does no more than this.
DEFAULT_MAIN = """\
/* The interpreter's entry point, as CPython's Programs/python.c has it. */
#include "Python.h"

int main(int argc, char **argv) { return Py_BytesMain(argc, argv); }
"""


@dataclass(frozen=True)
class InittabEntry:
    name: str
    init_fn: str | None  # None: the interpreter sets the module up itself (builtins, sys)


@dataclass(frozen=True)
class RelinkPlan:
    objects: tuple[str, ...]  # core objects without the archive's config.o, then the modules'
    static_libraries: tuple[str, ...]  # bundled archives, by path
    system_libraries: tuple[str, ...]  # -l<name>
    inittab: tuple[InittabEntry, ...]
    compile_flags: tuple[str, ...]  # for config.c and main: inittab_cflags and the headers
    link_flags: tuple[str, ...]

    def config_source(self) -> str:
        return render_config_c(self.inittab)

    def compile_commands(self) -> list[list[str]]:
        return [
            [COMPILER, *self.compile_flags, "-c", CONFIG_SOURCE, "-o", CONFIG_OBJECT],
            [COMPILER, *self.compile_flags, "-c", MAIN_SOURCE, "-o", MAIN_OBJECT],
        ]

    def link_command(self, output: str) -> list[str]:
        # The bundled archives in one group: their order in PYTHON.json is per module, and one
        # library may need another's members (libssl needs libcrypto; Tk needs X11).
        return [
            COMPILER, *self.link_flags, "-o", output, MAIN_OBJECT, CONFIG_OBJECT, *self.objects,
            "-Wl,--start-group", *self.static_libraries, "-Wl,--end-group",
            *(f"-l{name}" for name in self.system_libraries),
        ]  # fmt: skip

    def script(self, output: str) -> str:
        """The commands as a shell script (what the container runs, and what the log shows)."""
        lines = ["set -eux"]
        lines += [shlex.join(cmd) for cmd in [*self.compile_commands(), self.link_command(output)]]
        return "\n".join(lines) + "\n"


def render_config_c(entries: Iterable[InittabEntry]) -> str:
    """The table of built-in modules CPython's import system reads (``_PyImport_Inittab``)."""
    entries = list(entries)
    lines = [
        "/* The built-in modules of a relinked interpreter: written by",
        "   `python -m pythonbuild relink` from the archive's PYTHON.json. */",
        '#include "Python.h"',
        "",
    ]
    lines += [f"extern PyObject* {e.init_fn}(void);" for e in entries if e.init_fn]
    lines += ["", "struct _inittab _PyImport_Inittab[] = {"]
    lines += [f'    {{"{e.name}", {e.init_fn or "NULL"}}},' for e in entries]
    lines += ["    {0, 0}", "};", ""]
    return "\n".join(lines)


def _linked_in(build: dict) -> bool:
    """A module whose code is in the interpreter: in libpython, not a lib-dynload file."""
    return not build.get("shared_lib")


def plan_relink(document: dict, exclude: Iterable[str] = ()) -> RelinkPlan:
    """The relink of ``document``'s interpreter without the modules in ``exclude``.

    Raises UsageError for a module the archive does not have, one the interpreter cannot start
    without, or one that is a lib-dynload file rather than linked in.
    """
    info = document["build_info"]
    modules = {name: builds[0] for name, builds in info["extensions"].items()}
    excluded = tuple(dict.fromkeys(exclude))
    for name in excluded:
        if name not in modules:
            raise UsageError(
                f"unknown extension module {name!r}: the archive's are listed in PYTHON.json's "
                "build_info.extensions"
            )
        if modules[name]["required"]:
            raise UsageError(
                f"{name!r} cannot be left out: the interpreter does not start without it "
                "(required: true in PYTHON.json)"
            )
        if not _linked_in(modules[name]):
            raise UsageError(
                f"{name!r} is not linked into the interpreter but a file in lib-dynload "
                f"({modules[name]['shared_lib']}): leave that file out instead"
            )
    kept = {n: b for n, b in modules.items() if n not in excluded and _linked_in(b)}

    inittab_object = info["inittab_object"]
    objects = [o for o in info["core"]["objs"] if o != inittab_object]
    links = list(info["core"]["links"])
    for build in kept.values():
        objects += build["objs"]
        links += build.get("links", [])
    static = [link["path_static"] for link in links if "path_static" in link]
    system = [link["name"] for link in links if link.get("system")]

    inittab = [
        InittabEntry(name, None if b["init_fn"] == "NULL" else b["init_fn"])
        for name, b in sorted(kept.items())
    ]
    config = document.get("python_config_vars", {})
    include = document["python_paths"]["include"]
    link_flags = ["-pthread"]
    # The build's own link choices: hardening, --exclude-libs (the executable exports Python's
    # API, not OpenSSL's), LTO options. Not its -L (/tools/deps/lib: the archives are named by
    # path here) nor its PGO profile options (the profiles are not in the archive).
    for variable in ("LDFLAGS", "CONFIGURE_LDFLAGS_NODIST", "LINKFORSHARED"):
        link_flags += [
            word for word in shlex.split(config.get(variable) or "")
            if not word.startswith(("-L", "-fprofile"))
        ]  # fmt: skip
    return RelinkPlan(
        objects=tuple(dict.fromkeys(objects)),
        static_libraries=tuple(dict.fromkeys(static)),
        system_libraries=tuple(dict.fromkeys(system)),
        inittab=tuple(inittab),
        compile_flags=(*info["inittab_cflags"], f"-I{include}"),
        link_flags=tuple(link_flags),
    )
