"""``relink --frozen-app DIR``: one executable that runs a Python package's ``__main__``.

The package travels inside the executable as a zip archive appended to it (the ELF loader maps
only the program's segments; zipimport finds a zip archive at the end of any file and allows
bytes before it). The executable's own ``main`` puts its file first on ``sys.path`` and runs the
package as ``python -m NAME`` would; the standard library is the installation's beside the
executable, found as ``bin/python3`` finds it.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

# A fixed timestamp (zip's earliest) and modes: the same package gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class FrozenApp:
    name: str  # the package, run as `python -m name`
    archive: bytes  # the zip appended to the executable

    def main_source(self) -> str:
        return render_app_main(self.name)


def read_app(directory: Path) -> FrozenApp:
    """The package in ``directory`` (its name is the directory's); UsageError if it is not one
    that ``python -m`` could run."""
    if not directory.is_dir():
        raise UsageError(f"--frozen-app {directory}: no such directory")
    directory = directory.resolve()
    name = directory.name
    if not name.isidentifier():
        raise UsageError(
            f"--frozen-app {directory}: {name!r} is not a Python package name; the directory's "
            "name is the name the package is imported by"
        )
    if not (directory / "__main__.py").is_file():
        raise UsageError(
            f"--frozen-app {directory}: no __main__.py, the module the executable runs "
            f"(as `python -m {name}`)"
        )
    return FrozenApp(name, zip_package(directory, name))


def zip_package(directory: Path, name: str) -> bytes:
    """``directory``'s files under ``name/``, sorted, with fixed dates and modes. A package
    without ``__init__.py`` gets an empty one: zipimport finds no namespace package (a
    directory that is only a prefix of member names), so ``-m`` would not find it."""
    members: dict[str, bytes] = {}
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for file_name in names:
            if not file_name.endswith(SKIPPED_SUFFIXES):
                path = Path(root, file_name)
                members[path.relative_to(directory).as_posix()] = path.read_bytes()
    members.setdefault("__init__.py", b"")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in sorted(members):
            member = zipfile.ZipInfo(f"{name}/{relative}", ZIP_DATE)
            member.external_attr = 0o644 << 16
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, members[relative])
    return buffer.getvalue()


def render_app_main(name: str) -> str:
    """The C entry point: the executable's file first on sys.path (the appended package), the
    package's __main__ run as `-m` runs it, every command-line argument left to the app."""
    return f"""\
/* The entry point of a frozen application: written by `python -m pythonbuild relink`. */
#include "Python.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

static void exit_on_error(PyStatus status, PyConfig *config) {{
    if (PyStatus_Exception(status)) {{
        PyConfig_Clear(config);
        Py_ExitStatusException(status);
    }}
}}

int main(int argc, char **argv) {{
    char self[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (length < 0) {{
        perror("{name}: cannot find its own file (/proc/self/exe)");
        return 120;
    }}
    self[length] = '\\0';

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    /* The arguments are the app's, not options of the interpreter's. */
    config.parse_argv = 0;
    /* Neither the working directory nor PYTHONPATH comes before the app's own modules. */
    config.safe_path = 1;
    exit_on_error(PyConfig_SetBytesString(&config, &config.pythonpath_env, self), &config);
    exit_on_error(PyConfig_SetString(&config, &config.run_module, L"{name}"), &config);
    exit_on_error(PyConfig_SetBytesArgv(&config, argc, argv), &config);
    exit_on_error(Py_InitializeFromConfig(&config), &config);
    PyConfig_Clear(&config);
    return Py_RunMain();
}}
"""
