"""Relinking from PYTHON.json: the plan (which objects, libraries and built-in modules), the
commands, and refusing bad input. The end-to-end relinks are in test_relink_end_to_end.py."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import zstandard
from tarfiles import tar_bytes

from pythonbuild.errors import UsageError
from pythonbuild.linux.images import LLVM_VERSION
from pythonbuild.relink.cli import main
from pythonbuild.relink.frozen_app import read_app
from pythonbuild.relink.plan import CONFIG_OBJECT, MAIN_OBJECT, plan_relink
from pythonbuild.relink.run import check_toolchain, read_full_document


def _module(objs, links=(), required=False, in_core=False, init_fn=None, shared_lib=None, name=""):
    entry = {
        "in_core": in_core, "init_fn": init_fn or f"PyInit_{name}", "objs": list(objs),
        "links": list(links), "required": required, "variant": "default",
    }  # fmt: skip
    if shared_lib:
        entry["shared_lib"] = shared_lib
    return [entry]


def _document(object_file_format: str = "elf") -> dict:
    ssl = {"name": "ssl", "path_static": "build/lib/libssl.a"}
    crypto = {"name": "crypto", "path_static": "build/lib/libcrypto.a"}
    extensions = {
        "builtins": _module([], in_core=True, required=True, init_fn="NULL"),
        "marshal": _module([], in_core=True, required=True, init_fn="PyMarshal_Init"),
        "_io": _module(["build/Modules/_io/_iomodule.o"], required=True, name="_io"),
        "_ssl": _module(["build/Modules/_ssl.o"], [ssl, crypto], name="_ssl"),
        "_hashlib": _module(["build/Modules/_hashopenssl.o"], [crypto], name="_hashlib"),
        "math": _module(
            ["build/Modules/mathmodule.o"], [{"name": "m", "system": True}], name="math"
        ),
        "xxlimited": _module(
            ["build/Modules/xxlimited.o"],
            name="xxlimited",
            shared_lib="install/lib/python3.13/lib-dynload/xxlimited.cpython-313-x86_64-linux-gnu.so",
        ),
    }
    return {
        "target_triple": "x86_64-unknown-linux-gnu",
        "python_paths": {"include": "install/include/python3.13"},
        "python_config_vars": {
            "LDFLAGS": "-Wl,-z,relro -L/tools/deps/lib",
            "CONFIGURE_LDFLAGS_NODIST": "-Wl,--exclude-libs,libssl.a -fprofile-use=/x.profdata",
            "LINKFORSHARED": "-Xlinker -export-dynamic",
        },
        "build_info": {
            "core": {
                "objs": ["build/Python/ceval.o", "build/Modules/config.o", "build/Modules/main.o"],
                "links": [{"name": "pthread", "system": True}, {"name": "m", "system": True}],
            },
            "extensions": extensions,
            "inittab_object": "build/Modules/config.o",
            "inittab_source": "build/Modules/config.c",
            "inittab_cflags": ["-std=c11", "-DNDEBUG", "-DPy_BUILD_CORE"],
            "object_file_format": object_file_format,
        },
    }


def test_the_default_relink_is_the_interpreter_of_bin_python3() -> None:
    plan = plan_relink(_document())
    # The archive's own table of modules is replaced; lib-dynload modules are not linked in.
    assert "build/Modules/config.o" not in plan.objects
    assert "build/Modules/xxlimited.o" not in plan.objects
    assert plan.objects[:2] == ("build/Python/ceval.o", "build/Modules/main.o")
    assert {"build/Modules/_ssl.o", "build/Modules/_io/_iomodule.o"} <= set(plan.objects)
    assert plan.static_libraries == ("build/lib/libssl.a", "build/lib/libcrypto.a")
    assert plan.system_libraries == ("pthread", "m")
    names = [entry.name for entry in plan.inittab]
    assert "xxlimited" not in names and {"builtins", "marshal", "_ssl", "math"} <= set(names)


def test_the_table_of_modules_is_what_cpython_reads() -> None:
    source = plan_relink(_document()).config_source()
    assert '{"builtins", NULL},' in source
    assert '{"marshal", PyMarshal_Init},' in source
    assert "extern PyObject* PyInit__ssl(void);" in source
    assert "extern PyObject* NULL" not in source
    assert source.rstrip().endswith("{0, 0}\n};".rstrip())
    assert "struct _inittab _PyImport_Inittab[] = {" in source


def test_leaving_ssl_out_drops_its_objects_and_libssl_but_not_what_hashlib_needs() -> None:
    plan = plan_relink(_document(), ["_ssl"])
    assert "build/Modules/_ssl.o" not in plan.objects
    assert plan.static_libraries == ("build/lib/libcrypto.a",)
    assert "_ssl" not in [entry.name for entry in plan.inittab]
    assert "PyInit__ssl" not in plan.config_source()


@pytest.mark.parametrize(
    ("name", "says"),
    [("_nosuch", "unknown extension module '_nosuch'"), ("_io", "does not start without it"),
     ("xxlimited", "a file in lib-dynload")],
)  # fmt: skip
def test_a_module_that_cannot_be_left_out_is_one_line(name: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        plan_relink(_document(), [name])


def test_the_link_keeps_the_builds_choices_but_not_its_paths_or_profiles() -> None:
    plan = plan_relink(_document())
    command = plan.link_command("out/python")
    assert command[0] == "target-clang"
    assert "-Wl,--exclude-libs,libssl.a" in command and "-Wl,-z,relro" in command
    assert command[command.index("-Xlinker") :][:2] == ["-Xlinker", "-export-dynamic"]
    assert not [w for w in command if w.startswith(("-L", "-fprofile"))]
    assert command.index(MAIN_OBJECT) < command.index("build/Python/ceval.o")
    group = command[command.index("-Wl,--start-group") : command.index("-Wl,--end-group")]
    assert "build/lib/libcrypto.a" in group
    assert command[-2:] == ["-lpthread", "-lm"]
    compile_config = plan.compile_commands()[0]
    assert compile_config[-1] == CONFIG_OBJECT
    assert "-Iinstall/include/python3.13" in compile_config and "-DPy_BUILD_CORE" in compile_config


def test_bitcode_of_another_llvm_is_a_toolchain_mismatch() -> None:
    check_toolchain(_document("elf"))
    check_toolchain(_document(f"llvm-bitcode:{LLVM_VERSION}"))
    with pytest.raises(UsageError, match="LLVM 18 bitcode"):
        check_toolchain(_document("llvm-bitcode:18"))


def _zst_tar(path: Path, members: dict[str, bytes]) -> Path:
    path.write_bytes(zstandard.ZstdCompressor().compress(tar_bytes(members)))
    return path


def test_an_archive_without_build_objects_is_refused(tmp_path: Path) -> None:
    install_only = _zst_tar(tmp_path / "a.tar.zst", {"python/bin/python3": b"\x7fELF"})
    with pytest.raises(UsageError, match="relinking needs a full archive"):
        read_full_document(install_only)
    document = {
        "python_major_minor_version": "3.13", "python_version": "3.13.15",
        "target_triple": "x86_64-unknown-linux-gnu", "build_options": "noopt", "build_info": {},
    }  # fmt: skip
    no_objects = _zst_tar(
        tmp_path / "b.tar.zst", {"python/PYTHON.json": json.dumps(document).encode()}
    )
    with pytest.raises(UsageError, match="names no object files"):
        read_full_document(no_objects)


def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "missing.tar.zst"), "--out", str(tmp_path / "py")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    corrupt = tmp_path / "corrupt.tar.zst"
    corrupt.write_bytes(b"not zstd")
    assert main([str(corrupt), "--out", str(tmp_path / "py")]) == 2
    err = capsys.readouterr().err
    assert "not a zstd-compressed file" in err and err.strip().count("\n") == 0
    assert not (tmp_path / "py").exists()


def _app(root: Path, name: str = "hello_app", init: bool = True) -> Path:
    package = root / name
    (package / "__pycache__").mkdir(parents=True)
    if init:
        (package / "__init__.py").write_text("GREETING = 'hello'\n")
    (package / "__main__.py").write_text(
        "import sys\nGREETING = 'hello'\nprint(GREETING, *sys.argv[1:])\nsys.exit(7)\n"
    )
    (package / "__pycache__" / "__init__.cpython-313.pyc").write_bytes(b"stale")
    return package


def test_a_frozen_apps_zip_is_the_same_bytes_for_the_same_package(tmp_path: Path) -> None:
    first = read_app(_app(tmp_path / "one"))
    second_dir = _app(tmp_path / "two")
    os.utime(second_dir / "__main__.py", (1_000_000, 1_000_000))
    second = read_app(second_dir)
    assert first.name == "hello_app" and first.archive == second.archive
    with zipfile.ZipFile(io.BytesIO(first.archive)) as archive:
        assert archive.namelist() == ["hello_app/__init__.py", "hello_app/__main__.py"]


@pytest.mark.parametrize("init", [True, False], ids=["package", "no __init__.py"])
def test_a_frozen_app_is_imported_from_the_end_of_an_executable(tmp_path: Path, init) -> None:
    # What the relinked program does, with this interpreter: its own file (ELF bytes, then the
    # zip) first on sys.path, the package run as -m runs it, the arguments left to it.
    app = read_app(_app(tmp_path, init=init))
    program = tmp_path / "program"
    program.write_bytes(b"\x7fELF" + bytes(4096) + app.archive)
    run = subprocess.run(
        [sys.executable, "-m", app.name, "a", "b"], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(program)}, cwd=tmp_path / "hello_app" / "__pycache__",
    )  # fmt: skip
    assert (run.returncode, run.stdout) == (7, "hello a b\n"), run.stderr
    source = app.main_source()
    assert 'config.run_module, L"hello_app"' in source and "config.parse_argv = 0;" in source
    assert "config.pythonpath_env" in source and "/proc/self/exe" in source


@pytest.mark.parametrize(
    ("layout", "says"),
    [("missing", "no such directory"), ("no-main", "no __main__.py"),
     ("bad-name", "is not a Python package name")],
)  # fmt: skip
def test_a_directory_that_is_not_a_runnable_package_is_refused(tmp_path, layout, says) -> None:
    directory = {"missing": tmp_path / "nothing", "no-main": tmp_path / "pkg",
                 "bad-name": tmp_path / "my-app"}[layout]  # fmt: skip
    if layout != "missing":
        directory.mkdir()
        (directory / "__init__.py").write_text("")
    if layout == "bad-name":
        (directory / "__main__.py").write_text("")
    with pytest.raises(UsageError, match=says):
        read_app(directory)


def test_main_and_frozen_app_together_exit_2(tmp_path: Path, capsys) -> None:
    main_c = tmp_path / "main.c"
    main_c.write_text("int main(void) { return 0; }\n")
    args = ["a.tar.zst", "--out", str(tmp_path / "py"), "--main", str(main_c)]
    assert main([*args, "--frozen-app", str(_app(tmp_path))]) == 2
    assert "choose one" in capsys.readouterr().err
