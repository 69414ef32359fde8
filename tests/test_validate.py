"""`python -m pythonbuild validate` on small synthetic inputs (fast; no dist/, no containers).

The ELF rules run on tiny shared objects compiled here with and without hardening (``cc``
through require_tool: installed under CI as root, skipped elsewhere without one); the slow tests
in test_validate_seeded.py seed defects into a real archive.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard
from require_tool import require_tool

from pythonbuild.distribution.archive import write_distribution_archive
from pythonbuild.distribution.elf import count_direct_calls, read_elf
from pythonbuild.errors import BuildError
from pythonbuild.linux.images.build import planned_build_image
from pythonbuild.linux.plan import BuildRequest, load_extension_modules, make_plan
from pythonbuild.options import parse_options
from pythonbuild.registry import load_registry
from pythonbuild.reproduce.record import ProjectState, build_inputs, render_inputs
from pythonbuild.targets import get_target
from pythonbuild.validate import rules_document, rules_elf, rules_files, rules_inputs
from pythonbuild.validate.cli import main
from pythonbuild.validate.data import bundled_symbol_patterns, stdlib_extension_modules
from pythonbuild.validate.findings import Distribution, Finding

TRIPLE = "x86_64-unknown-linux-gnu"
TARGET = get_target(TRIPLE)
EXE = "install/bin/python3.13"
GOOD = "install/lib/python3.13/lib-dynload/good.cpython-313-x86_64-linux-gnu.so"
BAD = "install/lib/python3.13/lib-dynload/bad.cpython-313-x86_64-linux-gnu.so"

# Every extension module of the real 3.13 noopt archive (its PYTHON.json), which the data must
# reproduce.
REAL_313_MODULES = """
_abc _ast _asyncio _bisect _blake2 _bz2 _codecs _codecs_cn _codecs_hk _codecs_iso2022
_codecs_jp _codecs_kr _codecs_tw _collections _contextvars _csv _ctypes _ctypes_test _curses
_curses_panel _datetime _decimal _elementtree _functools _hashlib _heapq _imp _interpchannels
_interpqueues _interpreters _io _json _locale _lsprof _lzma _md5 _multibytecodec
_multiprocessing _opcode _operator _pickle _posixshmem _posixsubprocess _queue _random _sha1
_sha2 _sha3 _signal _socket _sqlite3 _sre _ssl _stat _statistics _string _struct _suggestions
_symtable _sysconfig _testbuffer _testcapi _testclinic _testclinic_limited
_testexternalinspection _testimportmultiple _testinternalcapi _testlimitedcapi _testmultiphase
_testsinglephase _thread _tkinter _tokenize _tracemalloc _typing _uuid _warnings _weakref _xxtestfuzz
_zoneinfo array atexit binascii builtins cmath errno faulthandler fcntl gc grp itertools marshal
math mmap posix pwd pyexpat readline resource select sys syslog termios time unicodedata
xxlimited xxlimited_35 xxsubtype zlib
""".split()  # noqa: SIM905 (a word list reads better than 109 quoted names)

# A module with a stack buffer and a libc call whose destination size the compiler knows, so
# that hardening flags leave their marks (__stack_chk_fail, __snprintf_chk).
MODULE_C = r"""
#include <stdio.h>
#include <string.h>
int PyInit_%(name)s(const char *text) {
    char buffer[64];
    snprintf(buffer, sizeof buffer, "%%s!", text);
    return (int)strlen(buffer);
}
%(extra)s
"""
HARDENED = [
    "-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2",
    "-Wl,-z,relro", "-Wl,-z,now", "-Wl,-z,noexecstack",
]  # fmt: skip
UNHARDENED = [
    "-O0", "-fno-stack-protector", "-U_FORTIFY_SOURCE",
    "-Wl,-z,execstack", "-Wl,-z,norelro", "-Wl,-z,lazy",
]  # fmt: skip


def _compile(source: str, output: Path, flags: list[str]) -> None:
    cc = require_tool("cc")
    output.parent.mkdir(parents=True, exist_ok=True)
    src = output.with_suffix(".c")
    src.write_text(source)
    subprocess.run(
        [cc, "-shared", "-fPIC", *flags, str(src), "-o", str(output)],
        check=True, capture_output=True,
    )  # fmt: skip
    src.unlink()


@pytest.fixture(scope="module")
def elf_tree(tmp_path_factory) -> Path:
    """python/ with a hardened module (good) and one with every ELF defect (bad)."""
    root = tmp_path_factory.mktemp("elf") / "python"
    foreign = root.parent / "foreign" / "libforeign.so"
    _compile("int foreign(void) { return 1; }", foreign, [])
    exports = "int PyExpat_XML_ParserCreate(void) { return 0; }"
    _compile(MODULE_C % {"name": "good", "extra": exports}, root / GOOD, HARDENED)
    # (and a call to a function no library defines, as one glibc 2.17 lacks would be)
    leaks = (
        "int SSL_new(void) { return 0; }\nint sqlite3_open(void) { return 0; }\n"
        "extern int glibc_2_99_function(void);\n"
        "int use_new(void) { return glibc_2_99_function(); }"
    )
    bad_flags = [
        *UNHARDENED, "-Wl,-rpath,/opt/lib:$ORIGIN/../lib", "-Wl,--no-as-needed",
        f"-L{foreign.parent}", "-lforeign",
    ]  # fmt: skip
    _compile(MODULE_C % {"name": "bad", "extra": leaks}, root / BAD, bad_flags)
    return root


def _dist(root: Path, doc: dict | None = None, target=TARGET) -> Distribution:
    doc = doc if doc is not None else _elf_doc()
    return Distribution(Path("test.tar.zst"), root, doc, target, "python/PYTHON.json")


def _elf_doc(glibc: str = "2.4") -> dict:
    return {
        "python_exe": EXE,
        "crt_features": ["glibc-dynamic", f"glibc-max-symbol-version:{glibc}"],
        "build_info": {
            "core": {},
            "extensions": {"good": [{"shared_lib": GOOD}], "bad": [{"shared_lib": BAD}]},
        },
    }


def _elf_findings(dist: Distribution) -> set[tuple[str, str]]:
    infos, unreadable = rules_elf.scan(dist)
    assert not unreadable
    return {(f.member, f.rule) for f in rules_elf.check(dist, infos)}


def test_elf_reader_sees_hardening(elf_tree: Path):
    good, bad = read_elf(elf_tree / GOOD), read_elf(elf_tree / BAD)
    assert (good.executable_stack, good.has_relro, good.bind_now) == (False, True, True)
    assert (bad.executable_stack, bad.has_relro, bad.bind_now) == (True, False, False)
    assert "__stack_chk_fail" in good.imported and "__snprintf_chk" in good.imported
    assert "PyInit_good" in good.exported and "snprintf" in bad.imported
    assert {"SSL_new", "sqlite3_open"} <= bad.exported
    assert "libforeign.so" in bad.needed and "/opt/lib:$ORIGIN/../lib" in bad.runpaths
    # glibc's functions carry its symbol versions; the function defined nowhere carries none.
    assert bad.unversioned_imports == {"glibc_2_99_function"}
    assert not good.unversioned_imports


def test_hardened_module_passes_and_each_defect_is_reported(elf_tree: Path):
    findings = _elf_findings(_dist(elf_tree))
    bad = f"python/{BAD}"
    assert findings == {
        (bad, "noexecstack"),
        (bad, "relro"),
        (bad, "bind-now"),
        (bad, "stack-protector"),
        (bad, "fortify"),
        (bad, "needed-library"),
        (bad, "runpath"),
        (bad, "bundled-symbols"),
        (bad, "unresolved-import"),
    }


def test_a_musl_target_asks_for_no_fortify_and_refuses_glibc_versions(elf_tree: Path):
    # The fixtures are glibc programs: on a musl target each GLIBC_ version is a finding, and
    # the fortify rule, which musl's headers cannot satisfy, is not applied.
    musl = get_target("x86_64-unknown-linux-musl")
    doc = {**_elf_doc(), "crt_features": ["musl-dynamic", "musl-version:1.2.3"]}
    findings = _elf_findings(_dist(elf_tree, doc, musl))
    assert (f"python/{GOOD}", "glibc-version") in findings
    assert not any(rule == "fortify" for _, rule in findings)
    assert (f"python/{BAD}", "stack-protector") in findings


def test_the_loader_is_the_target_c_library_s_or_none_when_static(tmp_path: Path):
    # A program of this machine (glibc): its loader is right for the glibc target only, and a
    # +static distribution may name none and need no library at all.
    root = tmp_path / "python"
    exe = root / EXE
    exe.parent.mkdir(parents=True)
    source = tmp_path / "main.c"
    source.write_text("int main(void) { return 0; }\n")
    subprocess.run([require_tool("cc"), str(source), "-o", str(exe)], check=True)
    loader = read_elf(exe).interpreter
    assert loader == "/lib64/ld-linux-x86-64.so.2"

    def findings(doc: dict, target) -> set[tuple[str, str]]:
        infos, _ = rules_elf.scan(_dist(root, doc, target))
        found = rules_elf.check(_dist(root, doc, target), infos)
        return {(f.rule, f.found) for f in found if f.rule in ("loader", "needed-library")}

    assert findings(_elf_doc(), TARGET) == set()
    musl = get_target("x86_64-unknown-linux-musl")
    dynamic = {**_elf_doc(), "build_options": "lto"}
    assert ("loader", f"PT_INTERP {loader}") in findings(dynamic, musl)
    static = findings({**_elf_doc(), "build_options": "lto+static"}, musl)
    assert ("loader", f"PT_INTERP {loader}") in static
    assert ("needed-library", "DT_NEEDED libc.so.6") in static


def test_calls_to_the_stack_protector_are_counted_in_a_static_program(tmp_path: Path):
    source = tmp_path / "main.c"
    source.write_text(
        "#include <string.h>\n"
        "__attribute__((noinline)) int fill(const char *s) { char b[64]; strcpy(b, s); return b[1]; }\n"
        "__attribute__((noinline)) int more(const char *s) { char b[32]; strcpy(b, s); return b[2]; }\n"
        "int main(int argc, char **argv) { return fill(argv[0]) + more(argv[0]); }\n"
    )
    counts = {}
    for flag in ("-fstack-protector-all", "-fno-stack-protector"):
        exe = tmp_path / flag.lstrip("-")
        subprocess.run([require_tool("cc"), "-O1", "-static", flag, str(source), "-o", str(exe)],
                       check=True)  # fmt: skip
        assert read_elf(exe).imported == set() and read_elf(exe).interpreter is None
        counts[flag] = count_direct_calls(exe, "__stack_chk_fail")
    # fill, more and main; the C library's own code may call it too, the same in both.
    assert counts["-fstack-protector-all"] - (counts["-fno-stack-protector"] or 0) >= 3
    assert count_direct_calls(exe, "no_such_function") is None


def test_bundled_symbol_finding_names_the_library(elf_tree: Path):
    infos, _ = rules_elf.scan(_dist(elf_tree))
    lines = [
        f.line() for f in rules_elf.check(_dist(elf_tree), infos) if f.rule == "bundled-symbols"
    ]
    assert any("openssl symbols (SSL_new)" in line for line in lines), lines
    assert any("sqlite symbols (sqlite3_open)" in line for line in lines), lines


def test_runpath_finding_names_only_the_absolute_entry(elf_tree: Path):
    infos, _ = rules_elf.scan(_dist(elf_tree))
    lines = [f.line() for f in rules_elf.check(_dist(elf_tree), infos) if f.rule == "runpath"]
    assert len(lines) == 1 and "'/opt/lib'" in lines[0]


def test_glibc_floor_and_declared_version(elf_tree: Path):
    old_floor = dataclasses.replace(TARGET, glibc_floor="2.3")
    findings = _elf_findings(_dist(elf_tree, _elf_doc(glibc="2.4"), old_floor))
    # The hardened module needs __stack_chk_fail@GLIBC_2.4, newer than a 2.3 floor.
    assert (f"python/{GOOD}", "glibc-version") in findings
    assert ("python/PYTHON.json", "glibc-version") not in findings
    findings = _elf_findings(_dist(elf_tree, _elf_doc(glibc="2.2")))
    assert ("python/PYTHON.json", "glibc-version") in findings


def test_a_module_built_against_this_machines_glibc_breaks_the_2_17_floor(tmp_path: Path):
    """What the stubs prevent: compiled against the host's glibc, a call to getrandom binds
    getrandom@GLIBC_2.25, which a system of the gnu targets' floor (2.17) does not have."""
    assert TARGET.glibc_floor == "2.17"
    root = tmp_path / "python"
    source = MODULE_C % {
        "name": "good",
        "extra": "#include <sys/random.h>\n"
        "int fill(char *b) { return (int)getrandom(b, 4, 0); }",
    }
    _compile(source, root / GOOD, HARDENED)
    _compile(MODULE_C % {"name": "bad", "extra": ""}, root / BAD, HARDENED)
    dist = _dist(root, _elf_doc(glibc="2.25"))
    infos, _ = rules_elf.scan(dist)
    findings = [f for f in rules_elf.check(dist, infos) if f.rule == "glibc-version"]
    assert [(f.member, f.found) for f in findings] == [(f"python/{GOOD}", "GLIBC_2.25")]


def test_wrong_machine_and_damaged_elf(elf_tree: Path, tmp_path: Path):
    root = tmp_path / "python"
    shutil.copytree(elf_tree, root)
    module = root / GOOD
    data = bytearray(module.read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
    module.write_bytes(bytes(data))
    (root / "install/lib/broken.so").write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 20)
    dist = _dist(root)
    infos, unreadable = rules_elf.scan(dist)
    assert [(f.member, f.rule) for f in unreadable] == [
        ("python/install/lib/broken.so", "elf-readable")
    ]
    machine = [f for f in rules_elf.check(dist, infos) if f.rule == "elf-machine"]
    assert [f.member for f in machine] == [f"python/{GOOD}"]
    assert "EM_AARCH64 ELF64" in machine[0].found and "EM_X86_64" in machine[0].allowed


def test_fortify_is_only_required_of_code_calling_fortifiable_functions(elf_tree: Path, tmp_path):
    root = tmp_path / "python"
    shutil.copytree(elf_tree, root)
    _compile("int PyInit_bad(int x) { return x + 1; }", root / BAD, ["-O2"])
    rules = {rule for member, rule in _elf_findings(_dist(root)) if member.endswith(BAD)}
    assert "fortify" not in rules and "stack-protector" in rules


def test_exemptions_come_from_data(elf_tree: Path, monkeypatch):
    monkeypatch.setattr(rules_elf, "hardening_exemptions", lambda rule: {"bad": "a test exemption"})
    rules = {rule for _, rule in _elf_findings(_dist(elf_tree))}
    assert "stack-protector" not in rules and "fortify" not in rules
    assert "bind-now" in rules


@pytest.mark.parametrize(
    ("name", "library"),
    [
        ("SSL_CTX_new", "openssl"),
        ("EVP_DigestInit_ex", "openssl"),
        ("OPENSSL_init_ssl", "openssl"),
        ("sqlite3_open_v2", "sqlite"),
        ("ffi_call", "libffi"),
        ("lzma_code", "xz"),
        ("deflateInit2_", "zlib"),
        ("crc32", "zlib"),
        ("BZ2_bzCompress", "bzip2"),
        ("ZSTD_compress", "zstd"),
        ("XML_ParserCreate", "expat"),
        ("mpd_qadd", "mpdecimal"),
        ("_nc_free_tinfo", "ncurses"),
        ("tigetstr", "ncurses"),
        ("new_panel", "ncurses"),
        ("el_init", "libedit"),
        ("rl_initialize", "libedit"),
        ("uuid_generate_time_safe", "libuuid"),
        ("XOpenDisplay", "libx11"),
        ("_XReply", "libx11"),
        ("XauGetBestAuthByAddr", "libxau"),
        ("xcb_connect", "libxcb"),
        ("Tcl_CreateInterp", "tcl"),
        ("TclpAlloc", "tcl"),
        ("tclStubsPtr", "tcl"),
        ("Tk_MainWindow", "tk"),
        ("Ttk_RegisterElement", "tk"),
    ],
)
def test_bundled_symbol_patterns(name: str, library: str):
    matching = [
        lib for lib, pattern in bundled_symbol_patterns().items() if pattern.fullmatch(name)
    ]
    assert matching[:1] == [library]


@pytest.mark.parametrize(
    "name",
    ["PyExpat_XML_ParserCreate", "_PyExpat_XML_SetHashSalt", "PyInit_pyexpat", "Py_Initialize",
     "PySSL_foo", "_Py_crc32", "PyInit__sqlite3", "PyInit_zlib", "_start", "PY_TIMEOUT_MAX",
     "__libc_csu_init", "main", "Tcl_AppInit", "PyInit__tkinter"],
)  # fmt: skip
def test_cpython_names_are_not_bundled_symbols(name: str):
    assert not any(p.fullmatch(name) for p in bundled_symbol_patterns().values())


def test_expected_modules_match_the_real_313_archive():
    assert rules_document.expected_extension_modules("3.13") == set(REAL_313_MODULES)


def test_expected_modules_follow_the_python_version():
    expected_314 = rules_document.expected_extension_modules("3.14")
    assert {"_zstd", "_hmac", "_remote_debugging"} <= expected_314
    assert "_testexternalinspection" not in expected_314
    assert "_math_integer" in stdlib_extension_modules("3.15")
    # Disabled in extension-modules.yml: never expected.
    assert not {"_gdbm", "_dbm"} & rules_document.expected_extension_modules("3.15")
    assert "_tkinter" in rules_document.expected_extension_modules("3.15")


def test_every_configured_module_exists_in_some_version():
    known = set().union(*(stdlib_extension_modules(v) for v in TARGET.pythons))
    assert set(load_extension_modules()) <= known


def _module_doc(modules: list[str], python: str = "3.13") -> dict:
    return {
        "python_major_minor_version": python,
        "build_info": {"extensions": {name: [{"license_paths": []}] for name in modules}},
    }


def test_extension_module_set_differences(tmp_path: Path):
    modules = [m for m in REAL_313_MODULES if m != "_json"] + ["_bogus"]
    dist = _dist(tmp_path, _module_doc(modules))
    lines = [f.line() for f in rules_document._extension_modules(dist)]
    assert len(lines) == 2
    assert "missing modules _json" in lines[0] and "unexpected modules _bogus" in lines[1]


def test_licenses_of_bundled_libraries(tmp_path: Path):
    licenses = tmp_path / "licenses"
    licenses.mkdir()
    for name in ("bzip2", "expat", "libedit", "libffi", "libuuid", "mpdecimal", "ncurses",
                 "openssl", "sqlite", "xz", "zlib"):  # fmt: skip
        (licenses / f"LICENSE.{name}.txt").write_text("terms")
    doc = _module_doc(REAL_313_MODULES)
    for module, libraries in (("_ssl", ["openssl"]), ("readline", ["libedit", "ncurses"])):
        doc["build_info"]["extensions"][module] = [
            {"license_paths": [f"licenses/LICENSE.{lib}.txt" for lib in libraries]}
        ]
    (licenses / "LICENSE.sqlite.txt").unlink()
    (licenses / "LICENSE.xz.txt").write_text("")
    doc["build_info"]["extensions"]["readline"][0]["license_paths"].pop()
    findings = {
        (f.member, f.found.split(" ")[-1]) for f in rules_document._licenses(_dist(tmp_path, doc))
    }
    assert ("python/licenses/LICENSE.sqlite.txt", "sqlite") in findings
    assert ("python/licenses/LICENSE.xz.txt", "xz") in findings
    lines = [f.line() for f in rules_document._licenses(_dist(tmp_path, doc))]
    assert any("extension readline" in line and "LICENSE.ncurses.txt" in line for line in lines)
    # Every module that links a library and is not listed above lacks its license paths.
    assert not any("extension _ssl " in line for line in lines)


def test_schema_findings_stop_the_other_document_rules(tmp_path: Path):
    findings = rules_document.check(_dist(tmp_path, {"version": "8", "python_exe": 3}))
    assert findings and {f.rule for f in findings} == {"schema"}
    assert any("python_exe" in f.found for f in findings)


def _files_tree(root: Path) -> Path:
    install = root / "install"
    (install / "bin").mkdir(parents=True)
    (install / "lib/pkgconfig").mkdir(parents=True)
    (install / "lib/python3.13").mkdir(parents=True)
    (install / "bin/python3.13").write_bytes(b"\x7fELF not really")
    (install / "bin/python3").symlink_to("python3.13")
    (install / "bin/python").symlink_to("python3")
    (install / "bin/pip3").write_text("#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/python3.13\"\n")
    (install / "bin/python3.13-config").write_text('#!/bin/sh\nprefix="/install"\n')
    (install / "lib/pkgconfig/python-3.13.pc").write_text("prefix=${pcfiledir}/../..\n")
    (install / "lib/python3.13/tool.py").write_text("#!/usr/bin/env python3\nX = '/build/ok'\n")
    return root


@pytest.mark.parametrize(
    ("line", "path"),
    [("libdir=/build/lib", "/build"), ("Libs: -L/tools/deps/lib", "/tools"),
     ('prefix="/install"', "/install"), ("exec /out/bin/x", "/out"), ("/sysroot", "/sysroot"),
     ("a:/install/lib", "/install"), ("/usr/install/x", None), ("${prefix}/build", None),
     ("/installer", None), ("/tmp/build", None), ("https://example.org/build", None)],
)  # fmt: skip
def test_build_path_pattern(line: str, path: str | None):
    match = rules_files._build_path_pattern().search(line)
    assert (match.group(0) if match else None) == path


def test_clean_files_pass(tmp_path: Path):
    dist = _dist(_files_tree(tmp_path / "python"), {"python_exe": EXE})
    assert rules_files.check(dist) == []


def test_build_paths_symlinks_and_python_commands(tmp_path: Path):
    root = _files_tree(tmp_path / "python")
    install = root / "install"
    (install / "bin/pip3").write_text("#!/install/bin/python3.13\nimport pip\n")
    (install / "bin/idle3.13").write_text("#!/usr/local/bin/python3\nimport idlelib\n")
    (install / "bin/2to3").write_text('#!/bin/sh\nexec /tools/deps/bin/python "$@"\n')
    (install / "lib/pkgconfig/python-3.13.pc").write_text("Libs: -L/build/out/lib\n")
    (install / "lib/python3.13/tool.py").write_text("#!/sysroot/usr/bin/python\n")
    (install / "bin/pydoc3").symlink_to("pydoc3.13")
    (install / "bin/python").unlink()
    (install / "bin/python").symlink_to("python3.13-config")
    (install / "bin/python3").unlink()
    # The relocatable form before the installers' format: code where they expect data.
    (install / "lib/python3.13/_sysconfigdata__linux_x86_64-linux-gnu.py").write_text(
        "# system configuration generated and used by the sysconfig module\n"
        "import os as _os\nbuild_time_vars = {'prefix': _os.path.dirname(__file__)}\n"
    )
    findings = {(f.member.removeprefix("python/install/"), f.rule) for f in
                rules_files.check(_dist(root, {"python_exe": EXE}))}  # fmt: skip
    assert findings == {
        ("bin/pip3", "shebang"),
        ("bin/idle3.13", "shebang"),
        ("bin/2to3", "build-path"),
        ("lib/pkgconfig/python-3.13.pc", "build-path"),
        ("lib/python3.13/tool.py", "shebang"),
        ("bin/pydoc3", "symlink"),
        ("bin/python", "python-commands"),
        ("bin/python3", "python-commands"),
        ("lib/python3.13/_sysconfigdata__linux_x86_64-linux-gnu.py", "sysconfig-data"),
    }


# --- the build inputs record (python/build/inputs.json) ----------------------------------------


@functools.cache
def _real_record() -> str:
    """The record this checkout writes for a 3.13 noopt build (as JSON: every caller gets a copy)."""
    request = BuildRequest(TARGET, "3.13", parse_options("noopt"), "20260101", 1_700_000_000,
                           1_699_999_990)  # fmt: skip
    plan = make_plan(request, load_registry(), planned_build_image(TARGET).tag)
    return render_inputs(build_inputs(plan, ProjectState("a" * 40, False))).decode()


def _inputs_record() -> dict:
    return json.loads(_real_record())


def _document_of(record: dict) -> dict:
    return {
        "target_triple": record["target"],
        "python_major_minor_version": record["python"],
        "python_version": record["python_version"],
        "build_options": record["options"],
    }


def _inputs_findings(tmp_path: Path, data: bytes | None, doc: dict | None = None) -> list[str]:
    root = tmp_path / "python"
    (root / "build").mkdir(parents=True, exist_ok=True)
    if data is not None:
        (root / "build/inputs.json").write_bytes(data)
    doc = doc if doc is not None else _document_of(_inputs_record())
    return [f.line() for f in rules_inputs.check(_dist(root, doc))]


def test_the_record_the_build_writes_passes(tmp_path: Path):
    assert _inputs_findings(tmp_path, render_inputs(_inputs_record())) == []


def _damaged(damage: str) -> bytes | None:
    record = _inputs_record()
    if damage == "missing":
        return None
    if damage == "not JSON":
        return render_inputs(record)[:-20]
    if damage == "a list":
        return b"[1, 2]\n"
    if damage == "unknown format":
        record["format"] = 2
    elif damage == "no steps":
        record["steps"] = []
    elif damage == "short cache key":
        record["steps"][0]["key"] = "abc"
    elif damage == "extra field":
        record["built_by"] = "me"
    elif damage == "no commit field":
        del record["project"]["commit"]
    return render_inputs(record)


@pytest.mark.parametrize(
    ("damage", "found"),
    [
        ("missing", "found no such file"),
        ("not JSON", "found not JSON (Unterminated string"),
        ("a list", "found not a JSON object"),
        ("unknown format", "found unknown inputs record format 2"),
        ("no steps", "found invalid inputs record at steps: [] should be non-empty"),
        ("short cache key", "found invalid inputs record at steps/0/key: 'abc' does not match"),
        ("extra field", "found invalid inputs record at (top): Additional properties"),
        ("no commit field", "found invalid inputs record at project: 'commit' is a required"),
    ],
)
def test_a_broken_record_is_one_finding(tmp_path: Path, damage: str, found: str):
    lines = _inputs_findings(tmp_path, _damaged(damage))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"python/build/inputs.json: inputs-record: {found}"), lines[0]
    assert lines[0].endswith("; allowed: " + rules_inputs.ALLOWED)


def test_a_record_of_another_build_is_a_finding(tmp_path: Path):
    record = _inputs_record()
    doc = {**_document_of(record), "target_triple": "x86_64_v3-unknown-linux-gnu"}
    record["options"] = "pgo+lto"
    (line,) = _inputs_findings(tmp_path, render_inputs(record), doc)
    assert "found target 'x86_64-unknown-linux-gnu' (PYTHON.json target_triple: 'x86_64_v3" in line
    assert "options 'pgo+lto' (PYTHON.json build_options: 'noopt')" in line
    # Fields the document lacks are the schema rule's findings.
    assert _inputs_findings(tmp_path, render_inputs(record), {"version": "8"}) == []


@pytest.mark.parametrize("inputs", ["good", "broken"])
def test_validate_catches_an_archive_with_a_broken_record(tmp_path: Path, capsys, inputs: str):
    record = _inputs_record()
    data = render_inputs(record) if inputs == "good" else b'{"format": 1}\n'
    doc = {"version": "8", **_document_of(record)}
    code, out, _ = _run(capsys, str(_archive(tmp_path, doc, inputs=data)))
    assert code == 1  # the fake archive has other findings
    lines = [line for line in out if line.startswith("python/build/inputs.json: ")]
    if inputs == "good":
        assert lines == []
    else:
        assert lines == [
            "python/build/inputs.json: inputs-record: found invalid inputs record at (top): "
            f"'project' is a required property; allowed: {rules_inputs.ALLOWED}"
        ]


# --- the command: bad input gives one error line, findings one line each -----------------------


def _archive(
    tmp_path: Path,
    doc: object,
    name: str = "x-full.tar.zst",
    first: bool = True,
    inputs: bytes | None = None,
) -> Path:
    stage = tmp_path / "stage"
    (stage / "install/bin").mkdir(parents=True, exist_ok=True)
    (stage / "install/bin/python3.13").write_text("not an interpreter")
    if inputs is not None:
        (stage / "build").mkdir(exist_ok=True)
        (stage / "build/inputs.json").write_bytes(inputs)
    if doc is not None:
        (stage / "PYTHON.json").write_text(json.dumps(doc))
    order = ["PYTHON.json", "install"] if first else ["install", "PYTHON.json"]
    return write_distribution_archive(stage, tmp_path / name, group_order=order, mtime=0)


def _run(capsys, *argv: str) -> tuple[int, list[str], list[str]]:
    code = main([*argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (None, "no python/PYTHON.json"),
        ({"version": "9", "target_triple": TRIPLE}, "unknown PYTHON.json format version '9'"),
        (
            {"version": "8", "target_triple": "sparc-sun-solaris"},
            "unknown target 'sparc-sun-solaris'",
        ),
        ([1, 2], "is not a JSON object"),
    ],
)
def test_bad_documents(tmp_path: Path, capsys, doc, message: str):
    code, out, err = _run(capsys, str(_archive(tmp_path, doc)))
    assert code == 1 and out == []
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_wrong_expected_target(tmp_path: Path, capsys):
    archive = _archive(tmp_path, {"version": "8", "target_triple": TRIPLE})
    code, _, err = _run(capsys, "--target", "x86_64_v3-unknown-linux-gnu", str(archive))
    assert code == 1 and len(err) == 1 and "expected x86_64_v3-unknown-linux-gnu" in err[0]


@pytest.mark.parametrize("damage", ["truncate", "corrupt", "not-an-archive", "missing"])
def test_damaged_archives(tmp_path: Path, capsys, damage: str):
    archive = _archive(tmp_path, {"version": "8", "target_triple": TRIPLE})
    data = archive.read_bytes()
    if damage == "truncate":
        archive.write_bytes(data[: len(data) // 2])
    elif damage == "corrupt":
        archive.write_bytes(data[:20] + bytes(b ^ 0xFF for b in data[20:60]) + data[60:])
    elif damage == "not-an-archive":
        archive.write_text("hello")
    else:
        archive.unlink()
    code, out, err = _run(capsys, str(archive))
    assert code == 1 and out == []
    assert len(err) == 1 and err[0].startswith(f"error: {archive}"), err


def test_usage_errors(capsys):
    code, _, err = _run(capsys)
    assert code == 2 and "required" in err[-1]


def test_findings_are_one_line_each_and_fail(tmp_path: Path, capsys):
    archive = _archive(tmp_path, {"version": "8", "target_triple": TRIPLE}, first=False)
    code, out, err = _run(capsys, str(archive))
    assert code == 1
    assert out and all(line.startswith("python/") and ": found " in line for line in out)
    assert any(line.startswith("python/PYTHON.json: schema: found ") for line in out), out
    assert err[-1] == f"error: validation failed: {archive.name}"


def test_symlink_leaving_the_archive_is_an_error(tmp_path: Path, capsys):
    archive = tmp_path / "x-full.tar.zst"
    with (
        archive.open("wb") as raw,
        zstandard.ZstdCompressor().stream_writer(raw) as stream,
        tarfile.open(fileobj=stream, mode="w|") as tar,
    ):
        doc = json.dumps({"version": "8", "target_triple": TRIPLE}).encode()
        info = tarfile.TarInfo("python/PYTHON.json")
        info.size = len(doc)
        tar.addfile(info, io.BytesIO(doc))
        link = tarfile.TarInfo("python/install/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, "/usr/bin/python3"
        tar.addfile(link)
    code, _, err = _run(capsys, str(archive))
    assert code == 1 and len(err) == 1 and "points outside the archive" in err[0], err


def test_finding_line_format():
    finding = Finding("python/install/bin/python3.13", "bind-now", "no DF_BIND_NOW", "-z now")
    assert (
        finding.line()
        == "python/install/bin/python3.13: bind-now: found no DF_BIND_NOW; allowed: -z now"
    )


def test_no_traceback_from_the_module_entry_point(tmp_path: Path):
    archive = tmp_path / "x-full.tar.zst"
    archive.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(64))
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys; from pythonbuild.validate.cli import main; sys.exit(main(sys.argv[1:]))",
         str(archive)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: "), result.stderr


def test_a_pass_is_remembered_for_an_unchanged_archive(tmp_path: Path, monkeypatch):
    from pythonbuild.validate import run

    archive = tmp_path / "x-full.tar.zst"
    archive.write_bytes(b"first")
    stamp = tmp_path / "state" / "validated"
    calls = []
    monkeypatch.setattr(run, "validate_archive", lambda path, target: calls.append(path) or [])
    run.validate_or_fail(archive, stamp=stamp, report=lambda line: None)
    run.validate_or_fail(archive, stamp=stamp, report=lambda line: None)
    assert len(calls) == 1 and stamp.is_file()
    archive.write_bytes(b"second")
    run.validate_or_fail(archive, stamp=stamp, report=lambda line: None)
    assert len(calls) == 2
    failing = Finding("python/x", "rule", "this", "that")
    monkeypatch.setattr(run, "validate_archive", lambda path, target: [failing])
    archive.write_bytes(b"third")
    reported: list[str] = []
    with pytest.raises(BuildError, match="failed validation with 1 finding"):
        run.validate_or_fail(archive, stamp=stamp, report=reported.append)
    assert reported == [failing.line()]
    with pytest.raises(BuildError):  # a failure is never remembered as a pass
        run.validate_or_fail(archive, stamp=stamp, report=reported.append)
