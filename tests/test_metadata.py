"""PYTHON.json v8: Setup parsing, object/library attribution, licenses, schema, python/build layout.

The fixtures under fixtures/metadata/ are a CPython 3.13 build's exports: configure-generated
Setup.stdlib and Setup.bootstrap, our Setup.local, makesetup's config.c, make-vars.json, and a
facts.json in collect-facts.py's shape.  ``out_tree`` lays them out the way the build container
exports them, with placeholder object files and libraries.
"""

from __future__ import annotations

import copy
import gzip
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from tarfiles import tar_bytes

from pythonbuild.distribution import buildinfo, metadata
from pythonbuild.distribution.buildinfo import collect_build_artifacts, layout_build_objects
from pythonbuild.distribution.setupfiles import (
    expand_make_references,
    internal_archives,
    module_link_words,
    parse_inittab,
    parse_setup_text,
    read_setup_rules,
    resolve_setup_rules,
)
from pythonbuild.errors import BuildError
from pythonbuild.options import BuildOptions
from pythonbuild.paths import ROOT, UNIX_DIR
from pythonbuild.registry import load_registry
from pythonbuild.targets import get_target

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"
SETUP_NAMES = ("Setup.local", "Setup.stdlib", "Setup.bootstrap")
BUNDLED = ("bz2", "crypto", "edit", "expat", "ffi", "lzma", "mpdec", "ncursesw", "panelw")
BUNDLED += ("sqlite3", "ssl", "uuid", "z")
TARGET = "x86_64-unknown-linux-gnu"
INSTALL_LIBPL = "install/lib/python3.13/config-3.13-x86_64-linux-gnu"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture_make_vars() -> dict[str, str]:
    return json.loads(fixture_text("make-vars.json"))


@pytest.fixture
def facts() -> dict:
    return metadata.load_facts(FIXTURES / "facts.json")


@pytest.fixture
def out_tree(tmp_path: Path) -> Path:
    """``out/`` as the CPython build container exports it."""
    out = tmp_path / "out"
    tree = out / "build-tree"
    (tree / "Modules").mkdir(parents=True)
    for name in (*SETUP_NAMES, "config.c"):
        shutil.copy(FIXTURES / name, tree / "Modules" / name)
    shutil.copy(FIXTURES / "make-vars.json", tree / "make-vars.json")
    make_vars = fixture_make_vars()
    objects = set(make_vars["LIBRARY_OBJS"].split()) | set(make_vars["LIBHACL_SHA2_OBJS"].split())
    for name in SETUP_NAMES:  # every source any rule names, built or not
        objects |= {
            f"Modules/{src[:-2]}.o" for src in re.findall(r"[\w/]+\.c\b", fixture_text(name))
        }
    for obj in objects:
        (tree / obj).parent.mkdir(parents=True, exist_ok=True)
        (tree / obj).write_bytes(f"ELF {obj}".encode())
    (tree / "libpython3.13.a").write_bytes(b"!<arch>\nlibpython")
    (out / "deps" / "lib").mkdir(parents=True)
    for lib in BUNDLED:
        (out / "deps" / "lib" / f"lib{lib}.a").write_bytes(f"!<arch>\n{lib}".encode())
    install = out / "install"
    for rel in ("bin", "include/python3.13", "lib/python3.13/site-packages",
                "lib/python3.13/lib-dynload", INSTALL_LIBPL.removeprefix("install/")):  # fmt: skip
        (install / rel).mkdir(parents=True, exist_ok=True)
    (install / "bin" / "python3.13").write_text("")
    (install / "lib" / "libpython3.13.so.1.0").write_text("")
    for name in json.loads(fixture_text("facts.json"))["lib_dynload"]["files"]:
        (install / "lib/python3.13/lib-dynload" / name).write_text("")
    return out


def module_libraries() -> dict[str, tuple[str, ...]]:
    return metadata.extension_libraries(
        yaml.safe_load((UNIX_DIR / "extension-modules.yml").read_text())
    )


def artifacts_for(out: Path, facts: dict):
    return collect_build_artifacts(out, facts, get_target(TARGET))


def document(out: Path, facts: dict, options: BuildOptions | None = None) -> dict:
    options = options or BuildOptions()
    registry = load_registry()
    build_info = metadata.build_info_section(
        artifacts_for(out, facts), facts, registry, module_libraries(), options
    )
    return metadata.build_python_json(
        facts, build_info, get_target(TARGET), options, registry.cpython("3.13"), "2.17"
    )


def extension(doc: dict, name: str) -> dict:
    (entry,) = doc["build_info"]["extensions"][name]
    return entry


# --- Setup files ------------------------------------------------------------------------------


def test_setup_sections_comments_and_continuations():
    text = "\n".join(
        [
            "# a comment \\",
            "array arraymodule.c",
            "#_dbm _dbmmodule.c",
            "PREFIX=/install",
            "*shared*",
            "_testcapi _testcapimodule.c \\",
            "    _testcapi/vectorcall.c -lm",
            "*disabled*",
            "_tkinter",
            "*static*",
            "_sha2 sha2module.c -I$(srcdir)/Modules/_hacl/include Modules/_hacl/libHacl_Hash_SHA2.a",
        ]
    )
    rules = {r.name: r for r in parse_setup_text(text, "Setup.test")}
    assert sorted(rules) == ["_sha2", "_testcapi", "_tkinter", "array"]
    assert rules["array"].section == "static"  # not swallowed by the comment's backslash
    assert rules["_testcapi"].section == "shared"
    assert rules["_testcapi"].objects == (
        "Modules/_testcapimodule.o",
        "Modules/_testcapi/vectorcall.o",
    )
    assert rules["_testcapi"].libs == ("-lm",)
    assert rules["_tkinter"].section == "disabled"
    assert rules["_sha2"].section == "static"
    assert rules["_sha2"].cflags == ("-I$(srcdir)/Modules/_hacl/include",)
    assert rules["_sha2"].libs == ("Modules/_hacl/libHacl_Hash_SHA2.a",)


def test_setup_rejects_unknown_section_and_bad_words():
    with pytest.raises(BuildError, match="unknown section"):
        parse_setup_text("*sometimes*\n", "Setup.local")
    with pytest.raises(BuildError, match="unexpected word"):
        parse_setup_text("array arraymodule.c -pthread\n", "Setup.local")


def test_first_rule_wins_in_makesetup_order(out_tree: Path):
    rules = read_setup_rules(out_tree / "build-tree")
    assert rules["_testbuffer"].section == "shared"  # Setup.local over Setup.stdlib's static
    assert rules["_testbuffer"].origin == "Setup.local"
    assert rules["_decimal"].libs == ("-lmpdec", "-lm")
    assert rules["_dbm"].section == "disabled"  # enabled by configure, disabled by us
    assert rules["_ssl"].origin == "Setup.stdlib"
    assert rules["posix"].origin == "Setup.bootstrap"
    assert rules["_sqlite3"].objects[0] == "Modules/_sqlite/blob.o"


def test_resolve_keeps_earliest_file():
    rules = resolve_setup_rules([("a", "*disabled*\nzlib\n"), ("b", "zlib zlibmodule.c\n")])
    assert rules["zlib"].section == "disabled"
    assert rules["zlib"].origin == "a"


def test_link_words_default_to_configure_flags_only_for_bare_rules():
    make_vars = fixture_make_vars()
    rules = resolve_setup_rules([(n, fixture_text(n)) for n in SETUP_NAMES])
    assert module_link_words(rules["_ssl"], make_vars) == ["-L/tools/deps/lib", "-lssl", "-lcrypto"]
    assert module_link_words(rules["_decimal"], make_vars) == ["-lmpdec", "-lm"]
    assert module_link_words(rules["_sha2"], make_vars) == ["Modules/_hacl/libHacl_Hash_SHA2.a"]


def test_inittab_and_archives():
    inittab = parse_inittab(fixture_text("config.c"))
    assert inittab["builtins"] == "NULL"
    assert inittab["_warnings"] == "_PyWarnings_Init"
    assert inittab["posix"] == "PyInit_posix"
    assert "_testbuffer" not in inittab
    archives = internal_archives(fixture_make_vars())
    assert archives["Modules/_hacl/libHacl_Hash_SHA2.a"] == ("Modules/_hacl/Hacl_Hash_SHA2.o",)
    assert expand_make_references("$(A) x", {"A": "$(B)1", "B": "b"}) == "b1 x"
    with pytest.raises(BuildError, match="no _PyImport_Inittab"):
        parse_inittab("int main(void) { return 0; }")


# --- objects and links -----------------------------------------------------------------------


def test_objects_belong_to_core_or_to_one_extension(out_tree: Path, facts: dict):
    artifacts = artifacts_for(out_tree, facts)
    core = set(artifacts.core_objs)
    ext = artifacts.extensions
    assert "Objects/abstract.o" in core and "Modules/config.o" in core
    assert ext["_ssl"].objs == ("Modules/_ssl.o",)
    assert "Modules/_ssl.o" not in core
    assert ext["_sha2"].objs == ("Modules/sha2module.o", "Modules/_hacl/Hacl_Hash_SHA2.o")
    assert ext["_io"].objs[0] == "Modules/_io/_iomodule.o" and ext["_io"].required
    assert (
        ext["_testbuffer"].kind == "shared" and ext["_testbuffer"].init_fn == "PyInit__testbuffer"
    )
    assert ext["builtins"].kind == "core" and ext["builtins"].objs == ()
    assert "_dbm" not in ext and "_tkinter" not in ext
    builtin_objs = {o for e in ext.values() if e.kind == "builtin" for o in e.objs}
    assert not core & builtin_objs
    assert set(fixture_make_vars()["LIBRARY_OBJS"].split()) <= core | builtin_objs


def test_links_name_bundled_archives_or_system_libraries(out_tree: Path, facts: dict):
    doc = document(out_tree, facts)
    assert extension(doc, "_ssl")["links"] == [
        {"name": "ssl", "path_static": "build/lib/libssl.a"},
        {"name": "crypto", "path_static": "build/lib/libcrypto.a"},
    ]
    assert extension(doc, "_decimal")["links"] == [
        {"name": "mpdec", "path_static": "build/lib/libmpdec.a"},
        {"name": "m", "system": True},
    ]
    assert extension(doc, "math")["links"] == [{"name": "m", "system": True}]
    assert doc["build_info"]["core"]["links"] == [
        {"name": n, "system": True} for n in ("dl", "pthread", "util", "m")
    ]


def test_system_library_outside_target_allowance_is_refused(out_tree: Path, facts: dict):
    target = get_target(TARGET)
    narrow = replace(
        target, needed_libraries=tuple(n for n in target.needed_libraries if "rt" not in n)
    )
    with pytest.raises(BuildError, match="_posixshmem links system library 'rt'"):
        collect_build_artifacts(out_tree, facts, narrow)


def test_unbundled_archive_is_refused():
    with pytest.raises(BuildError, match="neither bundled"):
        buildinfo.parse_links(["/usr/lib/libgdbm.a"], {"ssl"}, {}, "module x")
    with pytest.raises(BuildError, match="not a bundled static library"):
        buildinfo.parse_links(["-l:libatomic.a"], {"ssl"}, {}, "module x")


def test_setup_reading_must_agree_with_makesetup(out_tree: Path, facts: dict):
    path = out_tree / "build-tree" / "make-vars.json"
    make_vars = json.loads(path.read_text())
    make_vars["MODOBJS"] = make_vars["MODOBJS"].replace("Modules/_ssl.o", "")
    path.write_text(json.dumps(make_vars))
    with pytest.raises(BuildError, match=r"_ssl names Modules/_ssl\.o"):
        artifacts_for(out_tree, facts)


def test_interpreter_must_report_the_same_builtins(out_tree: Path, facts: dict):
    facts["builtin_module_names"].remove("array")
    with pytest.raises(BuildError, match=re.escape("sys.builtin_module_names: array")):
        artifacts_for(out_tree, facts)


def test_shared_module_missing_from_lib_dynload(out_tree: Path, facts: dict):
    facts["lib_dynload"]["files"] = [
        f for f in facts["lib_dynload"]["files"] if "xxlimited." not in f
    ]
    with pytest.raises(BuildError, match="shared module xxlimited"):
        artifacts_for(out_tree, facts)


def test_missing_object_file(out_tree: Path, facts: dict):
    (out_tree / "build-tree" / "Modules" / "_hacl" / "Hacl_Hash_SHA2.o").unlink()
    with pytest.raises(BuildError, match=re.escape("Hacl_Hash_SHA2.o is missing")):
        artifacts_for(out_tree, facts)


# --- licenses --------------------------------------------------------------------------------


def test_extension_licenses_come_from_the_registry(out_tree: Path, facts: dict):
    doc = document(out_tree, facts)
    ssl = extension(doc, "_ssl")
    assert ssl["licenses"] == ["Apache-2.0"]
    assert ssl["license_paths"] == ["licenses/LICENSE.openssl.txt"]
    assert ssl["license_public_domain"] is False
    readline = extension(doc, "readline")
    assert readline["licenses"] == ["BSD-3-Clause", "X11-distribute-modifications-variant"]
    assert readline["license_paths"] == [
        "licenses/LICENSE.libedit.txt",
        "licenses/LICENSE.ncurses.txt",
    ]
    assert extension(doc, "_sqlite3")["license_public_domain"] is True
    assert "licenses" not in extension(doc, "array")
    assert doc["licenses"] == ["Python-2.0", "CNRI-Python"]
    assert doc["license_path"] == "licenses/LICENSE.cpython.txt"


def test_bundled_link_without_declared_libraries_is_refused(out_tree: Path, facts: dict):
    libraries = {k: v for k, v in module_libraries().items() if k != "_lzma"}
    with pytest.raises(BuildError, match="extension _lzma links bundled libraries"):
        metadata.build_info_section(
            artifacts_for(out_tree, facts), facts, load_registry(), libraries, BuildOptions()
        )


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    path.write_bytes(gzip.compress(tar_bytes(files), mtime=0))
    return path


def test_write_licenses_extracts_from_tarballs(tmp_path: Path):
    registry = load_registry()
    cpython, expat = registry.cpython("3.13"), registry["expat"]
    tarballs = {
        cpython.name: _tarball(
            tmp_path / "py.tgz",
            {"Python-3.13.15/README.rst": b"x", "Python-3.13.15/LICENSE": b"PSF text"},
        ),
        expat.name: _tarball(
            tmp_path / "expat.tgz",
            {"libexpat-R_2_8_3/COPYING": b"top", "libexpat-R_2_8_3/expat/COPYING": b"MIT text"},
        ),
    }
    written = metadata.write_licenses(
        tmp_path / "licenses", [cpython, expat], lambda s: tarballs[s.name]
    )
    assert written[cpython.name].name == "LICENSE.cpython.txt"
    assert written[cpython.name].read_bytes() == b"PSF text"
    assert (tmp_path / "licenses" / "LICENSE.expat.txt").read_bytes() == b"MIT text"
    moved = replace(expat, license_file="COPYING.md")
    with pytest.raises(BuildError, match=re.escape("license file COPYING.md not found")):
        metadata.write_licenses(tmp_path / "licenses", [moved], lambda s: tarballs[s.name])


# --- the document ----------------------------------------------------------------------------


def test_document_values_and_schema(out_tree: Path, facts: dict):
    doc = document(out_tree, facts)
    metadata.validate_python_json(doc)
    assert doc["version"] == "8"
    assert doc["python_tag"] == "cp313" and doc["python_abi_tag"] == ""
    assert doc["python_platform_tag"] == "linux-x86_64"
    assert doc["python_exe"] == "install/bin/python3.13"
    assert doc["python_paths"]["stdlib"] == "install/lib/python3.13"
    assert doc["python_paths"]["data"] == "install"
    assert doc["python_stdlib_platform_config"] == INSTALL_LIBPL
    assert doc["python_implementation_version"] == ["3", "13", "15", "final", "0"]
    assert doc["crt_features"] == ["glibc-dynamic", "glibc-max-symbol-version:2.17"]
    assert doc["build_info"]["core"]["shared_lib"] == "install/lib/libpython3.13.so.1.0"
    assert extension(doc, "builtins") == {
        "in_core": True, "init_fn": "NULL", "links": [], "objs": [], "required": True,
        "variant": "default",
    }  # fmt: skip
    shared = extension(doc, "_testbuffer")["shared_lib"]
    assert (
        shared == "install/lib/python3.13/lib-dynload/_testbuffer.cpython-313-x86_64-linux-gnu.so"
    )
    config_vars = doc["python_config_vars"]
    assert config_vars["prefix"] == "/install" and config_vars["Py_ENABLE_SHARED"] == "1"
    assert not any("/out/install" in v for v in config_vars.values())
    assert "tcl_library_path" not in doc


def test_options_reach_the_document(out_tree: Path, facts: dict):
    doc = document(out_tree, facts, BuildOptions("debug", freethreaded=True))
    assert doc["build_options"] == "freethreaded+debug"
    assert doc["optimizations"] == "debug"
    assert "-DNDEBUG" not in doc["build_info"]["inittab_cflags"]
    with pytest.raises(BuildError, match="LTO objects"):
        document(out_tree, facts, BuildOptions("lto"))


def test_glibc_version_is_checked(out_tree: Path, facts: dict):
    registry = load_registry()
    args = (facts, {}, get_target(TARGET), BuildOptions(), registry.cpython("3.13"))
    with pytest.raises(BuildError, match="newer than"):
        metadata.build_python_json(*args, "2.18")
    with pytest.raises(BuildError, match=re.escape("is not X.Y")):
        metadata.build_python_json(*args, "GLIBC_2.17")


def test_interpreter_version_must_match_the_pinned_source(facts: dict):
    facts["python_version"] = "3.13.14"
    cpython = load_registry().cpython("3.13")
    with pytest.raises(BuildError, match=re.escape("says 3.13.14")):
        metadata.build_python_json(facts, {}, get_target(TARGET), BuildOptions(), cpython, "2.17")


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.pop("python_bytecode_magic_number"), "(top level)"),
        (lambda d: d.update(version="7"), "version"),
        (
            lambda d: d["build_info"]["core"]["links"].append({"name": "z"}),
            "build_info/core/links/4",
        ),
        (lambda d: d["python_paths"].update(stdlib="/install/lib"), "python_paths/stdlib"),
        (lambda d: d.update(crt_features=["static"]), "crt_features"),
        (lambda d: d.update(surprise=1), "(top level)"),
        (lambda d: d["build_info"]["extensions"]["_ssl"][0].pop("license_paths"), "_ssl/0"),
    ],
)
def test_schema_rejects_broken_documents(out_tree: Path, facts: dict, mutate, where: str):
    doc = copy.deepcopy(document(out_tree, facts))
    mutate(doc)
    with pytest.raises(BuildError, match=r"PYTHON\.json is invalid at ") as raised:
        metadata.validate_python_json(doc)
    assert where in str(raised.value)
    assert "\n" not in str(raised.value)


# --- python/build layout ---------------------------------------------------------------------


def test_layout_provides_every_path_the_document_names(tmp_path: Path, out_tree: Path, facts: dict):
    python = tmp_path / "python"
    shutil.copytree(out_tree / "install", python / "install")  # the packaging step's job
    (python / "licenses").mkdir()
    for name in ("cpython", "openssl", "libedit", "ncurses", "sqlite", "bzip2", "xz", "zlib",
                 "libffi", "expat", "mpdecimal", "libuuid"):  # fmt: skip
        (python / "licenses" / f"LICENSE.{name}.txt").write_text(name)
    artifacts = artifacts_for(out_tree, facts)
    layout_build_objects(out_tree, python, artifacts)
    doc = document(out_tree, facts)
    metadata.check_document_paths(doc, python)
    assert (python / "build/Modules/_ssl.o").read_bytes() == b"ELF Modules/_ssl.o"
    assert (python / "build/lib/libssl.a").is_file()
    assert (python / "build/lib/libpython3.13.a").read_bytes().endswith(b"libpython")
    assert (python / "build/Modules/Setup.local").read_text() == fixture_text("Setup.local")
    written = metadata.write_python_json(doc, python)
    assert json.loads(written.read_text()) == doc
    (python / "build/Modules/_ssl.o").unlink()
    with pytest.raises(BuildError, match=r"names build/Modules/_ssl\.o"):
        metadata.check_document_paths(doc, python)


def test_static_libpython_prefers_the_installed_copy(out_tree: Path, facts: dict):
    installed = out_tree / INSTALL_LIBPL / "libpython3.13.a"
    installed.write_bytes(b"!<arch>\n")
    artifacts = artifacts_for(out_tree, facts)
    assert artifacts.libpython_static == f"{INSTALL_LIBPL}/libpython3.13.a"
    assert artifacts.libpython_static_source is None


def test_run_tests_script_passes_arguments_to_regrtest(tmp_path: Path):
    python = tmp_path / "python"
    (python / "build").mkdir(parents=True)
    (python / "install/bin").mkdir(parents=True)
    fake = python / "install/bin/python3.13"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/argv\n')
    fake.chmod(0o755)
    (python / "PYTHON.json").write_text(json.dumps({"python_exe": "install/bin/python3.13"}))
    (python / buildinfo.RUN_TESTS).write_text(buildinfo.RUN_TESTS_SCRIPT)
    script = str(python / buildinfo.RUN_TESTS)
    subprocess.run([sys.executable, script, "test_os", "-v"], check=True)
    assert (tmp_path / "argv").read_text() == "-m test test_os -v\n"
    subprocess.run([sys.executable, script], check=True)
    assert (tmp_path / "argv").read_text().startswith("-m test -j0 -u all,-network")


# --- collect-facts.py ------------------------------------------------------------------------


def test_collect_facts_runs_on_a_real_interpreter():
    script = ROOT / "cpython-unix" / "collect-facts.py"
    result = subprocess.run(
        [sys.executable, "-I", str(script)], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    facts = json.loads(result.stdout)
    assert facts["format"] == 1
    assert facts["python_version_short"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert facts["magic_number"] == importlib.util.MAGIC_NUMBER.hex()
    assert "test" in facts["stdlib_test_packages"]
    assert not any(".test." in p or p.startswith("test.") for p in facts["stdlib_test_packages"])
    assert set(facts["paths"]) == set(facts["paths_abstract"])
    assert facts["suffixes"]["source"] == [".py"]
    assert "sys" in facts["builtin_module_names"]


def test_pthread_driver_flag_is_the_pthread_system_library():
    from pythonbuild.distribution.buildinfo import parse_links

    links, objs = parse_links(["-L/tools/deps/lib", "-llzma", "-pthread"], {"lzma"}, {}, "_lzma")
    assert [(link.name, link.bundled) for link in links] == [("lzma", True), ("pthread", False)]
    assert objs == []


def test_assembly_stamp_reads_only_files():
    """The up-to-date stamp hashes the assembly code; a resources subfolder must not break it."""
    from pythonbuild.distribution.assemble import ASSEMBLY_CODE

    assert ASSEMBLY_CODE and all(path.is_file() for path in ASSEMBLY_CODE)
    names = {path.name for path in ASSEMBLY_CODE}
    assert {"assemble.py", "downloads.yml", "python-json-v8.schema.json"} <= names


def test_tcl_library_dirs_are_the_tcl_and_tk_directories(tmp_path: Path):
    lib = tmp_path / "lib"
    for name in ("tcl8.6", "tcl8", "tk8.6", "python3.13", "pkgconfig", "tclx-not-a-library"):
        (lib / name).mkdir(parents=True)
    (lib / "tclConfig.sh").write_text("")
    assert metadata.tcl_library_dirs(lib) == ["tcl8", "tcl8.6", "tk8.6"]
    assert metadata.tcl_library_dirs(tmp_path / "missing") == []
