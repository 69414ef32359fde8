"""Relocation of a staged installation: sysconfig data, scripts, pkg-config, python-config."""

from __future__ import annotations

import ast
import json
import os
import pprint
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from require_tool import require_tool

from pythonbuild.distribution import relocate
from pythonbuild.distribution.relocate import (
    audit_relocation,
    find_build_paths,
    installer_format_problem,
    make_relocatable,
    prefixed_names,
    sanitize_configure_args,
    sanitize_flags,
)
from pythonbuild.errors import BuildError

SYSCONFIGDATA = "_sysconfigdata__linux_x86_64-linux-gnu"
CLANG = "clang-19 --sysroot=/sysroot -fuse-ld=lld"
PREFIX_MAP = "-ffile-prefix-map=/build/Python-3.13.1=."

# Shaped like a real 3.13 build in the container: --prefix=/install, clang-19 with a sysroot,
# dependencies in /tools/deps, sources in /build.
BUILD_TIME_VARS = {
    "ABIFLAGS": "",
    "AR": "llvm-ar",
    "ARFLAGS": "rcs",
    "BASECFLAGS": "-fno-strict-overflow -Wsign-compare",
    "BINDIR": "/install/bin",
    "BINLIBDEST": "/install/lib/python3.13",
    "BLDSHARED": f"{CLANG} -shared -L/tools/deps/lib -Wl,--exclude-libs,ALL",
    "CC": CLANG,
    "CCSHARED": "-fPIC",
    "CFLAGS": f"-fno-strict-overflow -Wsign-compare -DNDEBUG -g -O3 -Wall {PREFIX_MAP} "
    "-I/tools/deps/include -fPIC",
    "CFLAGSFORSHARED": "",
    "CONFIGURE_CFLAGS": f"{PREFIX_MAP} -I/tools/deps/include -fPIC",
    "CONFIGURE_CPPFLAGS": "-I/tools/deps/include",
    "CONFIGURE_LDFLAGS": "-L/tools/deps/lib -fuse-ld=lld -Wl,-rpath,/install/lib",
    "CONFIG_ARGS": "'--prefix=/install' '--build=x86_64-pc-linux-gnu' '--enable-shared' "
    "'--with-openssl=/tools/deps' 'CC=clang-19' "
    "'CFLAGS=-ffile-prefix-map=/build/Python-3.13.1=. -I/tools/deps/include -fPIC' "
    "'LDFLAGS=-L/tools/deps/lib -fuse-ld=lld' 'PKG_CONFIG_PATH=/tools/deps/lib/pkgconfig'",
    "CPPFLAGS": "-I. -I./Include -I/tools/deps/include",
    "CXX": "clang++-19 --sysroot=/sysroot",
    "DESTDIRS": "/install /install/lib /install/lib/python3.13 /install/lib/python3.13/lib-dynload",
    "DESTSHARED": "/install/lib/python3.13/lib-dynload",
    "EXT_SUFFIX": ".cpython-313-x86_64-linux-gnu.so",
    "HAVE_FORK": 1,
    "INCLUDEDIR": "/install/include",
    "INCLUDEPY": "/install/include/python3.13",
    "LDCXXSHARED": "clang++-19 --sysroot=/sysroot -shared",
    "LDFLAGS": "-L/tools/deps/lib -fuse-ld=lld -Wl,-rpath,/install/lib",
    "LDLIBRARY": "libpython3.13.so",
    "LDSHARED": f"{CLANG} -shared -L/tools/deps/lib",
    "LIBDIR": "/install/lib",
    "LIBFFI_INCLUDEDIR": "/tools/deps/include",
    "LIBPC": "/install/lib/pkgconfig",
    "LIBPL": "/install/lib/python3.13/config-3.13-x86_64-linux-gnu",
    "LIBS": "-ldl -lpthread -L/tools/deps/lib -lm",
    "LINKCC": CLANG,
    "CPP": f"{CLANG} -E",
    "MAINCC": CLANG,
    "MULTIARCH": "x86_64-linux-gnu",
    "OPENSSL_INCLUDES": "-I/tools/deps/include",
    "OPENSSL_LDFLAGS": "-L/tools/deps/lib",
    "PY_CFLAGS": f"-fno-strict-overflow -DNDEBUG -g -O3 {PREFIX_MAP} -I/tools/deps/include",
    "PY_CFLAGS_NODIST": "-std=c11 -fprofile-instr-use=/build/Python-3.13.1/code.profclangd "
    "-I./Include/internal",
    "PY_CORE_LDFLAGS": "-isystem /tools/deps/include -L/tools/deps/lib -fuse-ld=lld",
    "PY_LDFLAGS": "-L/tools/deps/lib -fuse-ld=lld",
    "Py_DEBUG": 0,
    "Py_ENABLE_SHARED": 1,
    "SIZEOF_VOID_P": 8,
    "SOABI": "cpython-313-x86_64-linux-gnu",
    "TZPATH": "/usr/share/zoneinfo:/usr/lib/zoneinfo:/usr/share/lib/zoneinfo:/etc/zoneinfo",
    "VERSION": "3.13",
    "WASM_ASSETS_DIR": "./install",
    "abs_builddir": "/build/Python-3.13.1",
    "abs_srcdir": "/build/Python-3.13.1",
    "datarootdir": "/install/share",
    "exec_prefix": "/install",
    "prefix": "/install",
    "srcdir": ".",
}

PYTHON_CONFIG = """\
#!/bin/sh

# Keep this script in sync with python-config.in

installed_prefix ()
{
    RESULT=$(dirname $(cd $(dirname "$1") && pwd -P))
    echo $RESULT
}

prefix_build="/install"
prefix_real=$(installed_prefix "$0")

prefix=$(echo "$prefix_build" | sed "s#$prefix_build#$prefix_real#")
exec_prefix_build="/install"
exec_prefix=$(echo "$exec_prefix_build" | sed "s#$exec_prefix_build#$prefix_real#")
includedir=$(echo "/install/include" | sed "s#$prefix_build#$prefix_real#")
libdir=$(echo "/install/lib" | sed "s#$prefix_build#$prefix_real#")
CFLAGS=$(echo "-ffile-prefix-map=/build/Python-3.13.1=. -I/tools/deps/include -fPIC" | sed "s#$prefix_build#$prefix_real#")
VERSION="3.13"
LIBM="-lm"
LIBC=""
SYSLIBS="$LIBM $LIBC"
ABIFLAGS=""
LIBS="-lpython${VERSION}${ABIFLAGS} -ldl -L/tools/deps/lib -lpthread $SYSLIBS"
BASECFLAGS="-fno-strict-overflow"
LINKFORSHARED="-Xlinker -export-dynamic --sysroot=/sysroot"
OPT="-DNDEBUG -g -O3 -Wall"
LIBPL=$(echo "/install/lib/python3.13/config-3.13-x86_64-linux-gnu" | sed "s#$prefix_build#$prefix_real#")
"""

MAKEFILE = """\
# Generated automatically from Makefile.pre by makesetup.
VERSION=\t3.13
srcdir=\t\t.
abs_srcdir=\t/build/Python-3.13.1
CC=\t\tclang-19 --sysroot=/sysroot -fuse-ld=lld
CXX=\t\tclang++-19 --sysroot=/sysroot
LDSHARED=\t$(CC) -shared -L/tools/deps/lib
CONFIGURE_CFLAGS=\t-ffile-prefix-map=/build/Python-3.13.1=. -I/tools/deps/include -fPIC
CONFIG_ARGS=\t '--prefix=/install' 'CC=clang-19' '--with-openssl=/tools/deps'
prefix=\t\t/install

all:\tbuild_all
\t$(CC) -c -I/tools/deps/include foo.c
"""

PKGCONFIG = """\
# See: man pkg-config
prefix=/install
exec_prefix=${prefix}
libdir=${exec_prefix}/lib
includedir=${prefix}/include

Name: Python
Description: Build a C extension for Python
Requires:
Version: 3.13
Libs.private: -ldl -L/tools/deps/lib -lpthread
Libs: -L${libdir} -lpython3.13
Cflags: -I${includedir}/python3.13
"""

PIP_SCRIPT = """\
#!/install/bin/python3.13
# -*- coding: utf-8 -*-
import os
import sys
print(repr(os.path.abspath(sys.executable)))
print(repr(sys.argv[1:]))
"""


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def make_installation(root: Path) -> Path:
    """A small installation as ``make install`` into /install leaves it."""
    stdlib = root / "lib" / "python3.13"
    _write(
        stdlib / f"{SYSCONFIGDATA}.py",
        "# system configuration generated and used by the sysconfig module\n"
        "build_time_vars = " + pprint.pformat(BUILD_TIME_VARS) + "\n",
    )
    _write(stdlib / "__pycache__" / f"{SYSCONFIGDATA}.cpython-313.pyc", "stale")
    _write(stdlib / "config-3.13-x86_64-linux-gnu" / "Makefile", MAKEFILE)
    _write(root / "bin" / "python3.13-config", PYTHON_CONFIG, 0o755)
    for name in ("pip", "pip3", "pip3.13"):
        _write(root / "bin" / name, PIP_SCRIPT, 0o755)
    _write(root / "bin" / "pydoc3.13", "#!/install/bin/python3.13 -E\nimport sys\n", 0o755)
    # The host interpreter stands in for the built one.
    (root / "bin" / "python3.13").symlink_to(os.path.realpath(sys.executable))
    (root / "bin" / "python3").symlink_to("python3.13")
    _write(root / "lib" / "pkgconfig" / "python-3.13.pc", PKGCONFIG)
    (root / "lib" / "pkgconfig" / "python3.pc").symlink_to("python-3.13.pc")
    return root


@pytest.fixture
def installation(tmp_path: Path) -> Path:
    return make_installation(tmp_path / "stage" / "install")


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


QUERY = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
os.environ["_PYTHON_SYSCONFIGDATA_NAME"] = sys.argv[2]
import sysconfig
names = ["prefix", "exec_prefix", "LIBDIR", "INCLUDEPY", "BINDIR", "LIBPL", "LIBPC", "CC",
         "CXX", "LDSHARED", "LDCXXSHARED", "BLDSHARED", "LINKCC", "CPP", "AR", "CFLAGS",
         "LDFLAGS", "CONFIG_ARGS", "DESTDIRS", "PY_CORE_LDFLAGS", "PY_CFLAGS_NODIST",
         "LIBFFI_INCLUDEDIR", "HAVE_FORK", "TZPATH", "srcdir"]
print(json.dumps({name: sysconfig.get_config_var(name) for name in names}))
"""


def _config_vars_seen_from(prefix: Path) -> dict:
    """Ask a fresh interpreter's ``sysconfig`` for the variables of the copy at ``prefix``."""
    result = subprocess.run(
        [
            sys.executable,
            "-E",
            "-S",
            "-c",
            QUERY,
            str(prefix / "lib" / "python3.13"),
            SYSCONFIGDATA,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_sysconfig_follows_the_installation_and_uses_plain_compilers(
    installation: Path, tmp_path: Path
) -> None:
    make_relocatable(installation)
    for copy in (tmp_path / "a" / "python", tmp_path / "with space" / "py thon"):
        _copy(installation, copy)
        seen = _config_vars_seen_from(copy)
        assert seen["prefix"] == seen["exec_prefix"] == str(copy)
        assert seen["LIBDIR"] == f"{copy}/lib"
        assert seen["INCLUDEPY"] == f"{copy}/include/python3.13"
        assert seen["BINDIR"] == f"{copy}/bin"
        assert seen["LIBPL"] == f"{copy}/lib/python3.13/config-3.13-x86_64-linux-gnu"
        assert seen["LIBPC"] == f"{copy}/lib/pkgconfig"
        assert (
            seen["DESTDIRS"]
            == f"{copy} {copy}/lib {copy}/lib/python3.13 {copy}/lib/python3.13/lib-dynload"
        )
        assert seen["CC"] == seen["LINKCC"] == "cc"
        assert seen["CXX"] == "c++"
        assert seen["CPP"] == "cc -E"
        assert seen["AR"] == "ar"
        assert seen["LDSHARED"] == "cc -shared"
        assert seen["BLDSHARED"] == "cc -shared -Wl,--exclude-libs,ALL"
        assert seen["LDCXXSHARED"] == "c++ -shared"
        assert seen["CFLAGS"] == "-fno-strict-overflow -Wsign-compare -DNDEBUG -g -O3 -Wall -fPIC"
        assert seen["LDFLAGS"] == f"-Wl,-rpath,{copy}/lib"
        assert seen["PY_CORE_LDFLAGS"] == ""
        assert seen["PY_CFLAGS_NODIST"] == "-std=c11 -I./Include/internal"
        assert seen["LIBFFI_INCLUDEDIR"] == ""
        assert seen["CONFIG_ARGS"] == (
            f"'--prefix={copy}' '--build=x86_64-pc-linux-gnu' '--enable-shared' 'CC=cc' 'CFLAGS=-fPIC'"
        )
        assert seen["HAVE_FORK"] == 1
        assert seen["TZPATH"] == BUILD_TIME_VARS["TZPATH"]
        for name, value in seen.items():
            if isinstance(value, str):
                for needle in ("/install", "/tools", "/build", "/sysroot"):
                    assert needle not in value.replace(str(copy), "<copy>"), name


def test_relocated_sysconfigdata_is_deterministic_and_idempotent(tmp_path: Path) -> None:
    first = make_installation(tmp_path / "one")
    second = make_installation(tmp_path / "two")
    changes = make_relocatable(first)
    make_relocatable(second)
    module = Path("lib/python3.13") / f"{SYSCONFIGDATA}.py"
    assert (first / module).read_bytes() == (second / module).read_bytes()
    assert make_relocatable(first) == []
    described = {str(change.path): change.description for change in changes}
    assert str(module) in described
    assert f"lib/python3.13/__pycache__/{SYSCONFIGDATA}.cpython-313.pyc" in described
    assert not (first / "lib/python3.13/__pycache__" / f"{SYSCONFIGDATA}.cpython-313.pyc").exists()


def test_relocated_sysconfigdata_keeps_sorted_keys(installation: Path) -> None:
    make_relocatable(installation)
    source = (installation / "lib/python3.13" / f"{SYSCONFIGDATA}.py").read_text()
    body = source.splitlines()[2 : source.splitlines().index("}")]
    keys = [line.split(":")[0].strip() for line in body]
    assert keys == sorted(keys) and len(keys) == len(BUILD_TIME_VARS)


def test_shebang_trampoline_runs_the_sibling_interpreter(
    installation: Path, tmp_path: Path
) -> None:
    make_relocatable(installation)
    copy = _copy(installation, tmp_path / "dir with space" / "python")
    pip = copy / "bin" / "pip3.13"
    result = subprocess.run(
        [str(pip), "one", "two words"], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [
        repr(str(copy / "bin" / "python3.13")),
        repr(["one", "two words"]),
    ]
    # Through a symlink elsewhere (like ~/.local/bin/pip), the script still finds its interpreter.
    link = tmp_path / "other bin" / "pip"
    link.parent.mkdir()
    link.symlink_to(pip)
    result = subprocess.run([str(link), "x"], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[0] == repr(str(copy / "bin" / "python3.13"))


def test_shebang_rewrite_keeps_valid_python_and_arguments(installation: Path) -> None:
    make_relocatable(installation)
    pip = (installation / "bin" / "pip").read_text()
    assert pip.startswith("#!/bin/sh\n'''exec' ")
    assert "/install" not in pip
    assert pip.endswith(PIP_SCRIPT.split("\n", 1)[1])
    compile(pip, "pip", "exec")
    pydoc = (installation / "bin" / "pydoc3.13").read_text()
    assert '/python3.13" -E "$0" "$@"' in pydoc.splitlines()[1]
    assert os.access(installation / "bin" / "pip", os.X_OK)
    assert (installation / "bin" / "python3").is_symlink()


def test_pkgconfig_prefix_is_relative_to_the_file(installation: Path) -> None:
    make_relocatable(installation)
    text = (installation / "lib/pkgconfig/python-3.13.pc").read_text()
    assert "prefix=${pcfiledir}/../..\n" in text
    assert "Libs.private: -ldl -lpthread\n" in text
    assert "/install" not in text and "/tools" not in text
    assert (installation / "lib/pkgconfig/python3.pc").is_symlink()


def test_pkgconfig_finds_a_moved_installation(installation: Path, tmp_path: Path) -> None:
    pkg_config = require_tool("pkg-config")
    make_relocatable(installation)
    copy = _copy(installation, tmp_path / "moved")
    result = subprocess.run(
        [pkg_config, "--variable=libdir", "python-3.13"],
        env={**os.environ, "PKG_CONFIG_PATH": str(copy / "lib/pkgconfig")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert os.path.realpath(result.stdout.strip()) == str(copy / "lib")


def test_python_config_keeps_its_prefix_logic_and_loses_build_flags(installation: Path) -> None:
    make_relocatable(installation)
    lines = (installation / "bin/python3.13-config").read_text().splitlines()
    assert 'prefix_build="/install"' in lines
    assert 'libdir=$(echo "/install/lib" | sed "s#$prefix_build#$prefix_real#")' in lines
    assert 'CFLAGS=$(echo "-fPIC" | sed "s#$prefix_build#$prefix_real#")' in lines
    assert 'LIBS="-lpython${VERSION}${ABIFLAGS} -ldl -lpthread $SYSLIBS"' in lines
    assert 'LINKFORSHARED="-Xlinker -export-dynamic"' in lines


def test_makefile_compiler_settings_are_sanitized(installation: Path) -> None:
    make_relocatable(installation)
    text = (installation / "lib/python3.13/config-3.13-x86_64-linux-gnu/Makefile").read_text()
    assert "CC=\t\tcc\n" in text
    assert "CXX=\t\tc++\n" in text
    assert "LDSHARED=\t$(CC) -shared\n" in text
    assert "CONFIGURE_CFLAGS=\t-fPIC\n" in text
    assert "CONFIG_ARGS=\t '--prefix=/install' 'CC=cc'\n" in text
    # Recipe lines are not assignments and stay as they are.
    assert "\t$(CC) -c -I/tools/deps/include foo.c\n" in text


def test_build_details_paths_become_relative(installation: Path) -> None:
    details = {
        "schema_version": "1.0",
        "base_prefix": "/install",
        "base_interpreter": "/install/bin/python3.14",
        "platform": "linux-x86_64",
        "libpython": {"dynamic": "/install/lib/libpython3.14.so", "link_extensions": False},
        "c_api": {
            "headers": "/install/include/python3.14",
            "pkgconfig_path": "/install/lib/pkgconfig",
        },
    }
    path = _write(installation / "lib/python3.14/build-details.json", json.dumps(details))
    changes = make_relocatable(installation)
    assert Path("lib/python3.14/build-details.json") in {change.path for change in changes}
    data = json.loads(path.read_text())
    assert list(data) == list(details)
    assert data["base_prefix"] == "../.."
    assert data["base_interpreter"] == "./bin/python3.14"
    assert data["libpython"] == {"dynamic": "./lib/libpython3.14.so", "link_extensions": False}
    assert data["c_api"]["headers"] == "./include/python3.14"
    resolved = (path.parent / data["base_prefix"]).resolve()
    assert resolved == installation.resolve()


def test_find_build_paths_reports_then_audit_is_clean(installation: Path) -> None:
    before = find_build_paths(installation / "bin")
    assert (installation / "bin/pip", "#!/install/bin/python3.13") in before
    assert find_build_paths(installation / "lib/pkgconfig/python-3.13.pc")
    assert audit_relocation(installation)  # everything still names /install
    make_relocatable(installation)
    assert audit_relocation(installation) == []
    assert find_build_paths(installation / "lib/pkgconfig") == []
    # The sysconfig data keeps the build prefix for installers, but no build-only path.
    sysconfigdata = installation / "lib/python3.13" / f"{SYSCONFIGDATA}.py"
    assert find_build_paths(sysconfigdata, ("/tools/", "/build/", "/sysroot")) == []
    for path, _line in find_build_paths(installation / "bin"):
        assert path.name == "python3.13-config"


def test_audit_still_reports_build_flags_on_allowed_python_config_lines(installation: Path) -> None:
    make_relocatable(installation)
    script = installation / "bin/python3.13-config"
    script.write_text(
        script.read_text()
        + 'INCDIR=$(echo "/install/include -I/tools/x" | sed "s#$prefix_build#$prefix_real#")\n'
    )
    assert [line for _path, line in audit_relocation(installation)] == [
        'INCDIR=$(echo "/install/include -I/tools/x" | sed "s#$prefix_build#$prefix_real#")'
    ]


def test_find_build_paths_matches_whole_components(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", "/installer/x\n/opt/install2\nok\n/install\n")
    _write(tmp_path / "b.bin", "x")
    (tmp_path / "b.bin").write_bytes(b"\0/install/lib")
    assert find_build_paths(tmp_path) == [(tmp_path / "a.txt", "/install")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-I/tools/deps/include -O2", "-O2"),
        ("-isystem /tools/deps/include -g", "-g"),
        ("--sysroot /sysroot -fPIC", "-fPIC"),
        ("-Wl,-rpath,/tools/deps/lib -Wl,-O1", "-Wl,-O1"),
        ("-fdebug-prefix-map=/build=. -fmacro-prefix-map=/a=b -O3", "-O3"),
        ("-I/opt/tools/include  -O2", "-I/opt/tools/include  -O2"),  # unchanged, spacing kept
        ("-L/buildroot/lib", "-L/buildroot/lib"),
        ("/tools/deps/include", ""),
    ],
)
def test_sanitize_flags(value: str, expected: str) -> None:
    assert sanitize_flags(value) == expected


def test_sanitize_flags_renames_commands() -> None:
    assert sanitize_flags("/tools/llvm/bin/clang-19 -pthread", command=True) == "cc -pthread"
    assert sanitize_flags("clang++ -shared", command=True) == "c++ -shared"
    assert sanitize_flags("gcc -pthread", command=True) == "gcc -pthread"
    # The build image's compiler wrappers (build.Dockerfile.j2).
    assert sanitize_flags("target-clang -pthread", command=True) == "cc -pthread"
    assert sanitize_flags("target-clang++ -shared", command=True) == "c++ -shared"
    assert sanitize_flags("--target=x86_64-linux-gnu -O2") == "-O2"


def test_sanitize_configure_args_requotes_like_configure() -> None:
    value = "'--prefix=/install' 'CFLAGS=-O2 -I/tools/deps/include' 'it'\\''s'"
    assert sanitize_configure_args(value) == "'--prefix=/install' 'CFLAGS=-O2' 'it'\\''s'"
    assert sanitize_configure_args("'--enable-shared'") == "'--enable-shared'"


@pytest.mark.parametrize(
    ("value", "is_path"),
    [
        ("/install", True),
        ("/install/lib", True),
        ("-L/install/lib -lfoo", True),
        ("'--prefix=/install' 'x'", True),
        # The Makefile's WASM_ASSETS_DIR: a path inside a WebAssembly bundle, not on this disk.
        ("./install/lib/python3.13/os.py", False),
        ("/opt/install/lib", False),
        ("-lfoo", False),
    ],
)
def test_prefixed_names_are_the_values_holding_a_path_under_the_prefix(
    value: str, is_path: bool
) -> None:
    assert prefixed_names({"V": value, "N": 1}, "/install") == (["V"] if is_path else [])


def test_a_value_with_the_prefix_both_as_path_and_inside_a_word_is_refused() -> None:
    with pytest.raises(BuildError, match="both as a path and inside another word"):
        prefixed_names({"V": "/install/bin /installer"}, "/install")


def test_relocated_sysconfigdata_is_plain_data_for_installers(installation: Path) -> None:
    make_relocatable(installation)
    source = (installation / "lib/python3.13" / f"{SYSCONFIGDATA}.py").read_text()
    assert installer_format_problem(source) is None
    lines = source.splitlines()
    assert lines[:2] == [
        "# system configuration generated and used by the sysconfig module",
        "build_time_vars = {",
    ]
    # The dict names the build prefix, which is what installers look for and rewrite.
    assert "    'LIBDIR': '/install/lib'," in lines
    assert "    'WASM_ASSETS_DIR': './install'," in lines
    # The dict, evaluated on its own as a reader of data does, is exactly the sanitized values.
    dict_source = source[: source.index("\n}\n") + 3].split("\n", 1)[1]
    data = ast.literal_eval(dict_source.split("=", 1)[1])
    assert data["BLDSHARED"] == "cc -shared -Wl,--exclude-libs,ALL"
    assert data["prefix"] == "/install"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("build_time_vars = {}\n", "the first line"),
        ("# system configuration generated and used by the sysconfig module\nx = 1\n", "second"),
        (
            "# system configuration generated and used by the sysconfig module\n"
            "build_time_vars = {'a': _prefix + '/b'}\n",
            "'a' is not a string or integer literal",
        ),
        (
            "# system configuration generated and used by the sysconfig module\n"
            "build_time_vars = {'a': 'x' 'y', 'b': -1, 'c': 2}\nimport os\n",
            None,
        ),
    ],
)
def test_installer_format_problem(source: str, problem: str | None) -> None:
    found = installer_format_problem(source)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_values_installers_cannot_read_are_refused(tmp_path: Path) -> None:
    for value, message in (("a\tb", "escape sequence"), (2**40, "32-bit"), (1.5, "not str or int")):
        root = tmp_path / str(len(message))
        _write(
            root / "lib/python3.13" / f"{SYSCONFIGDATA}.py",
            "# system configuration generated and used by the sysconfig module\n"
            f"build_time_vars = {{'V': {value!r}}}\n",
        )
        (root / "bin").mkdir()
        with pytest.raises(BuildError, match=message):
            make_relocatable(root)


def test_trampoline_refuses_names_that_need_quoting() -> None:
    with pytest.raises(ValueError):
        relocate.shell_trampoline('python"3')


def test_python_config_prefix_survives_spaces(tmp_path):
    from pythonbuild.distribution.relocate import sanitize_python_config

    prefix = tmp_path / "with space" / "python"
    script = prefix / "bin" / "python3.13-config"
    script.parent.mkdir(parents=True)
    script.write_text(
        "#!/bin/sh\n"
        "installed_prefix ()\n"
        "{\n"
        '    RESULT=$(dirname $(cd $(dirname "$1") && pwd -P))\n'
        "    echo $RESULT\n"
        "}\n"
        'prefix_real=$(installed_prefix "$0")\n'
        'echo "$prefix_real"\n'
    )
    script.chmod(0o755)
    assert sanitize_python_config(script)
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(prefix)


def test_the_build_interpreter_of_a_cross_build_leaves_no_path_behind():
    # A build on a machine that cannot run target code records its build interpreter
    # (/build-python, cpython-unix/build-python.sh) in the Makefile and sysconfig variables.
    value = "/build-python/build/python ./Programs/_freeze_module.py"
    assert relocate.sanitize_flags(value) == "./Programs/_freeze_module.py"
    assert (
        relocate.sanitize_configure_args(
            "'--prefix=/install' '--with-build-python=/build-python/build/python'"
        )
        == "'--prefix=/install'"
    )
