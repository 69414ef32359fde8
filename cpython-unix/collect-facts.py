"""Print, as JSON, what the freshly built interpreter knows about itself.

The build runs ``/out/install/bin/python3 collect-facts.py > facts.json`` after ``make install``;
pythonbuild.distribution.metadata turns the result into PYTHON.json.  Asking the interpreter (rather than
re-deriving values from the Makefile) makes the document describe the distribution as it
actually behaves.  Only the standard library may be used: nothing else is installed yet.

On a build machine that cannot run target code, the build interpreter (same version and
abiflags) runs this instead, with PYTHONHOME and _PYTHON_SYSCONFIGDATA_PATH pointing at the
installation; ``--builtin-modules-from Modules/config.c`` then supplies the one fact it cannot
share with the target, which modules are compiled in.
"""

import importlib.machinery
import importlib.util
import json
import os
import platform
import re
import sys
import sysconfig
import warnings

FACTS_FORMAT = 1
# Directory names that hold a package's tests in CPython's standard library.
TEST_DIR_NAMES = {"test", "tests", "idle_test"}
# Directories under the stdlib that are not part of it.
NOT_STDLIB = {"site-packages", "lib-dynload", "__pycache__"}


def jsonable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def suffixes():
    # DEBUG_/OPTIMIZED_BYTECODE_SUFFIXES are deprecated aliases of BYTECODE_SUFFIXES; a version
    # that drops them still has the same answer.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        bytecode = list(importlib.machinery.BYTECODE_SUFFIXES)
        return {
            "bytecode": bytecode,
            "debug_bytecode": list(
                getattr(importlib.machinery, "DEBUG_BYTECODE_SUFFIXES", bytecode)
            ),
            "extension": extension_suffixes(),
            "optimized_bytecode": list(
                getattr(importlib.machinery, "OPTIMIZED_BYTECODE_SUFFIXES", bytecode)
            ),
            "source": list(importlib.machinery.SOURCE_SUFFIXES),
        }


def extension_suffixes():
    """The target's suffixes: a build interpreter for another CPU has its own multiarch in them."""
    ours = getattr(sys.implementation, "_multiarch", "")
    target = sysconfig.get_config_var("MULTIARCH") or ours
    return [s.replace(ours, target) if ours else s for s in importlib.machinery.EXTENSION_SUFFIXES]


def is_test_dir(name):
    return name in TEST_DIR_NAMES or name.startswith("test_")


def stdlib_test_packages(stdlib):
    """Dotted names of the outermost test directories of the standard library."""
    found = []
    for root, dirs, _files in os.walk(stdlib):
        rel = os.path.relpath(root, stdlib)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in NOT_STDLIB and not d.startswith("config-")]
        for name in sorted(dirs):
            if is_test_dir(name):
                parts = [] if rel == "." else rel.split(os.sep)
                found.append(".".join([*parts, name]))
        # Tests of tests are covered by their outermost directory.
        dirs[:] = sorted(d for d in dirs if not is_test_dir(d) and d != "__pycache__")
    return sorted(found)


def lib_dynload():
    path = os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload")
    files = sorted(os.listdir(path)) if os.path.isdir(path) else []
    return {"path": path, "files": files}


def inittab_names(config_c):
    """The module names of config.c's _PyImport_Inittab: the target's sys.builtin_module_names."""
    with open(config_c, encoding="utf-8") as handle:
        text = handle.read()
    table = text[text.index("_PyImport_Inittab[]") :]
    return re.findall(r'\{\s*"([^"]+)"\s*,', table[: table.index("{0, 0}")])


def collect(builtin_modules=None):
    impl = sys.implementation
    return {
        "format": FACTS_FORMAT,
        "python_version": platform.python_version(),
        "version_info": [jsonable(v) for v in sys.version_info],
        "python_version_short": sysconfig.get_python_version(),
        "abiflags": sys.abiflags,
        "implementation": {
            "name": impl.name,
            "cache_tag": impl.cache_tag,
            "hexversion": impl.hexversion,
            "version": [jsonable(v) for v in impl.version],
        },
        "platform": sysconfig.get_platform(),
        "prefix": sys.prefix,
        "exec_prefix": sys.exec_prefix,
        "base_prefix": sys.base_prefix,
        "executable": sys.executable,
        "default_scheme": sysconfig.get_default_scheme(),
        "paths": sysconfig.get_paths(),
        "paths_abstract": dict(sysconfig.get_paths(expand=False)),
        "config_vars": {k: jsonable(v) for k, v in sorted(sysconfig.get_config_vars().items())},
        "suffixes": suffixes(),
        "magic_number": importlib.util.MAGIC_NUMBER.hex(),
        "builtin_module_names": sorted(
            sys.builtin_module_names if builtin_modules is None else builtin_modules
        ),
        "lib_dynload": lib_dynload(),
        "stdlib_test_packages": stdlib_test_packages(sysconfig.get_path("stdlib")),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--builtin-modules-from"]:
        # (The caller sets _PYTHON_HOST_PLATFORM, which sysconfig.get_platform() answers with:
        # this interpreter runs on the build machine, not the target's.)
        facts = collect(inittab_names(sys.argv[2]))
    else:
        facts = collect()
    json.dump(facts, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
