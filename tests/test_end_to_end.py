"""End to end: build x86_64-unknown-linux-gnu 3.13 noopt and use the result like a user would.

Slow (a cold machine builds images, every library and CPython): run with ``./run-tests --all``.
The build runs once per session; every check works on a copy extracted to a path with a space.
Another build can be checked the same way by naming it in the environment, e.g.
``STANDALONE_PYTHON_E2E_OPTIONS=freethreaded+pgo+lto ./run-tests -- -m slow tests/test_end_to_end.py``
(also ``STANDALONE_PYTHON_E2E_TARGET`` and ``STANDALONE_PYTHON_E2E_PYTHON``), and archives built
earlier can be checked without building with ``STANDALONE_PYTHON_E2E_DIST=dist``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from conftest import OPTIONS, PYTHON, TARGET, run_build
from require_tool import require_tool

from pythonbuild.distribution.archive import extract_archive, open_distribution
from pythonbuild.distribution.elf import newest_glibc_version, scan_tree
from pythonbuild.linux.plan import bolt_applies
from pythonbuild.targets import get_target
from pythonbuild.testdist.smoke import run_smoke_on_host
from pythonbuild.versions import version_tuple

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def python_home(build, tmp_path_factory) -> Path:
    """The install_only archive extracted under a directory whose name has a space."""
    dest = tmp_path_factory.mktemp("extract") / "with space" / "here"
    dest.mkdir(parents=True)
    extract_archive(build["install_only"], dest)
    return dest / "python"


@pytest.fixture(scope="session")
def full_tree(build, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("full")
    extract_archive(build["full"], dest)
    return dest / "python"


def run_python(python_home: Path, code: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **kwargs.pop("env", {})}
    result = subprocess.run(
        [str(python_home / "bin" / "python3"), "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, env=env, cwd=kwargs.pop("cwd", "/"), check=False, **kwargs,
    )  # fmt: skip
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def test_outputs_and_checksums(build):
    sums = (build["dist"] / "SHA256SUMS").read_text().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in sums)
    for key in ("full", "install_only", "install_only_stripped"):
        path = build[key]
        assert listed[path.name] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_stripped_archive_is_install_only_without_debug_information(build, python_home, tmp_path):
    """install_only_stripped: the members of install_only but the bytecode for -O and -OO, the
    ELF files without debug sections but with their symbol tables (profilers and native
    tracebacks need them)."""
    with open_distribution(build["install_only"]) as tar:
        plain = {member.name: member for member in tar}
    with open_distribution(build["install_only_stripped"]) as tar:
        stripped = {member.name: member for member in tar}
    optimized = {name for name in plain if name.endswith((".opt-1.pyc", ".opt-2.pyc"))}
    decoder = re.compile(r".*/json/__pycache__/decoder\.cpython-[0-9]+t?(\.opt-[12])?\.pyc")
    assert sum(1 for name in optimized if decoder.fullmatch(name)) == 2
    assert sorted(stripped) == sorted(set(plain) - optimized)
    assert sum(1 for name in stripped if decoder.fullmatch(name)) == 1
    assert all(stripped[name].mode == plain[name].mode for name in stripped)
    home = extract_archive(build["install_only_stripped"], tmp_path) / "python"
    infos = scan_tree(home)
    assert len(infos) == len(scan_tree(python_home))
    abi = PYTHON + ("t" if OPTIONS.freethreaded else "") + ("d" if OPTIONS.debug else "")
    assert {f"python{abi}", f"libpython{abi}.so.1.0"} <= {info.path.name for info in infos}
    readelf, nm = require_tool("readelf"), require_tool("nm")
    for info in infos:
        sections = subprocess.run(
            [readelf, "-S", "-W", str(info.path)], capture_output=True, text=True, check=True
        ).stdout
        assert ".debug_info" not in sections, info.path
        assert ".symtab" in sections, info.path
    symbols = subprocess.run(
        [nm, str(home / "bin" / f"python{PYTHON}")], capture_output=True, text=True, check=True
    ).stdout
    assert " _PyEval_EvalFrameDefault" in symbols or "PyEval_EvalFrameDefault" in symbols
    sizes = {key: build[key].stat().st_size for key in ("install_only", "install_only_stripped")}
    print(
        f"install_only {sizes['install_only']:,} bytes, stripped {sizes['install_only_stripped']:,}"
    )
    assert sizes["install_only_stripped"] < sizes["install_only"]
    result = subprocess.run(
        [str(home / "bin" / "python3"), "-c", "import ssl, sqlite3, ctypes; print('ok')"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.stdout == "ok\n", result.stderr
    # -OO compiles from the sources the first time and writes its bytecode beside them.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [str(home / "bin" / "python3"), "-OO", "-c", "import json.decoder as d; print(d.__doc__)"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert result.stdout == "None\n", result.stderr
    assert list(home.glob("lib/python3*/json/__pycache__/decoder.*.opt-2.pyc"))


def test_full_archive_layout(build):
    with open_distribution(build["full"]) as tar:
        names = [member.name for member in tar]
    assert names[0] == "python/PYTHON.json"
    groups = [n.split("/")[1] for n in names[1:]]
    order = ["install", "build", "licenses", "sbom.cdx.json", "sbom.spdx.json"]
    assert sorted(groups, key=order.index) == groups, "members not grouped install, build, licenses"
    for group in order[:3]:
        members = [n for n in names if n.startswith(f"python/{group}/")]
        assert members, f"no python/{group}/ members"
        assert members == sorted(members)


def test_sboms_in_archives_and_dist(build, full_tree, python_home):
    """The SBOMs are beside the archives (and in SHA256SUMS), the same bytes in both archives,
    valid by the formats' own tools, and name every library the licenses directory has."""
    from test_sbom import cyclonedx_problems, spdx_problems

    stem = build["full"].name.removesuffix(".tar.zst")
    sums = (build["dist"] / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1] for line in sums}
    for suffix in (".spdx.json", ".cdx.json"):
        beside = build["dist"] / f"{stem}{suffix}"
        assert beside.name in listed
        assert (full_tree / f"sbom{suffix}").read_bytes() == beside.read_bytes()
        assert (python_home / f"sbom{suffix}").read_bytes() == beside.read_bytes()
    assert spdx_problems(build["dist"] / f"{stem}.spdx.json") == []
    assert cyclonedx_problems((build["dist"] / f"{stem}.cdx.json").read_text()) == []
    spdx = json.loads((full_tree / "sbom.spdx.json").read_text())
    named = {p["name"] for p in spdx["packages"]}
    licensed = {p.name.split(".")[1] for p in (full_tree / "licenses").iterdir()}
    assert licensed <= named, licensed - named
    packages = (full_tree / "build" / "image-packages.txt").read_text()
    assert "\tclang-19\t" in packages and "\tlibc6-dev\t" in packages


def test_python_json_and_licenses(full_tree):
    doc = json.loads((full_tree / "PYTHON.json").read_text())
    assert doc["version"] == "8"
    assert doc["target_triple"] == TARGET
    assert doc["build_options"] == OPTIONS.name
    for path in [doc["python_exe"], doc["license_path"], *doc["build_info"]["core"]["objs"][:20]]:
        assert (full_tree / path).exists(), path
    for name, variants in doc["build_info"]["extensions"].items():
        for variant in variants:
            for path in variant.get("license_paths", []):
                assert (full_tree / path).is_file(), f"{name}: {path}"
    licenses = {p.name for p in (full_tree / "licenses").iterdir()}
    for component in ("openssl", "sqlite", "libffi", "xz", "zlib", "bzip2", "mpdecimal", "expat",
                      "ncurses", "libedit", "libuuid", "cpython", "tcl", "tk", "libx11",
                      "libxcb", "libxau", "xorgproto", "xtrans", "xcb-proto"):  # fmt: skip
        assert f"LICENSE.{component}.txt" in licenses
    # Tcl/Tk's script libraries, as PBS's consumers look for them.
    assert doc["tcl_library_path"] == "install/lib"
    assert {"tcl8.6", "tk8.6"} <= set(doc["tcl_library_paths"])
    for name in doc["tcl_library_paths"]:
        assert (full_tree / "install" / "lib" / name).is_dir(), name
    tkinter = doc["build_info"]["extensions"]["_tkinter"][0]
    assert {"licenses/LICENSE.tcl.txt", "licenses/LICENSE.tk.txt"} <= set(tkinter["license_paths"])


def test_runs_from_path_with_space(python_home):
    result = run_python(
        python_home,
        "import sys, sysconfig; print(sys.prefix); print(sysconfig.get_config_var('LIBDIR'))",
    )
    prefix, libdir = result.stdout.splitlines()
    assert Path(prefix) == python_home
    assert Path(libdir) == python_home / "lib"


def test_every_extension_module_imports(python_home, full_tree):
    doc = json.loads((full_tree / "PYTHON.json").read_text())
    extensions = doc["build_info"]["extensions"]
    assert "_ssl" in extensions and "_sqlite3" in extensions and "readline" in extensions
    assert "_gdbm" not in extensions and "_tkinter" in extensions
    # install_only leaves out the test-support modules (shared libraries), as PBS does.
    modules = sorted(
        name
        for name, variants in extensions.items()
        if "shared_lib" not in variants[0]
        or (python_home / Path(variants[0]["shared_lib"]).relative_to("install")).exists()
    )
    assert len(modules) > 60
    run_python(
        python_home,
        "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)",
        *modules,
    )


def test_tls_handshake_with_bundled_openssl(python_home, tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    code = """
        import socket, ssl, sys, threading
        ca, server_pem = sys.argv[1:3]
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(server_pem)
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        def serve():
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(tls.recv(5).upper())
        thread = threading.Thread(target=serve)
        thread.start()
        client_ctx = ssl.create_default_context(cafile=ca)
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"hello")
                assert tls.recv(5) == b"HELLO"
                print(tls.version(), ssl.OPENSSL_VERSION)
        thread.join()
    """
    result = run_python(python_home, code, str(tmp_path / "ca.pem"), str(tmp_path / "server.pem"))
    assert "OpenSSL 3.5" in result.stdout and "TLSv1.3" in result.stdout


# Where smoke.py's curses check looks for the xterm entry.
TERMINFO_DIRS = ("/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo", "/usr/lib/terminfo")


def test_smoke_checks_pass(python_home, full_tree, tmp_path):
    """test-dist's smoke script (pythonbuild/resources/testdist/smoke.py) on this extraction:
    bz2/lzma/zlib, sqlite3 (FTS5, JSON, RTREE, loadable extensions), ctypes, _decimal, uuid,
    readline (libedit) and curses, hashlib, venv with pip installing a local wheel, a venv with
    copied executables, relocatable scripts, and more."""
    cases = run_smoke_on_host(
        python_home / "bin" / "python3", full_tree / "PYTHON.json", tmp_path / "smoke.json",
        tmp_path / "smoke.log",
    )  # fmt: skip
    failed = [f"{c.name}: {c.message}\n{c.details}" for c in cases if c.outcome == "failed"]
    assert not failed, "\n".join(failed)
    skipped = {case.name for case in cases if case.outcome == "skipped"}
    # no_system_python runs in containers only; the curses check skips only on a system without
    # an xterm terminfo entry (Debian's ncurses-base has one, and every Debian system has it).
    allowed = {"no_system_python"}
    if not any(Path(d, "x", "xterm").exists() for d in TERMINFO_DIRS):
        allowed.add("readline_and_curses")
    assert skipped <= allowed, skipped


def test_no_host_libraries_and_glibc_floor(python_home):
    target = get_target(TARGET)
    infos = scan_tree(python_home)
    shipped = {info.path.name for info in infos}
    for info in infos:
        for needed in info.needed:
            assert needed in target.needed_libraries or needed in shipped, (info.path, needed)
        for runpath in info.runpaths:
            assert runpath.startswith("$ORIGIN"), (info.path, runpath)
    newest = newest_glibc_version(infos)
    assert version_tuple(newest) <= version_tuple(target.glibc_floor), newest
    ldd = subprocess.run(
        ["ldd", str(python_home / "bin" / "python3")], capture_output=True, text=True, check=True
    )
    print(ldd.stdout, f"newest GLIBC: {newest}")
    assert "not found" not in ldd.stdout


def test_scripts_and_pkgconfig_have_no_build_paths(python_home):
    for script in (python_home / "bin").iterdir():
        if script.is_file() and not script.is_symlink() and script.read_bytes()[:2] == b"#!":
            first = script.read_text().splitlines()[0]
            assert "/install" not in first, (script, first)
    for pc in (python_home / "lib" / "pkgconfig").glob("*.pc"):
        assert "/install" not in pc.read_text(), pc
    pip = python_home / "bin" / "pip3"
    result = subprocess.run([str(pip), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert str(python_home) in result.stdout


def test_compile_c_extension_against_dist(python_home, tmp_path):
    require_tool("cc")  # the distribution's sysconfig names plain `cc`
    (tmp_path / "spdemo.c").write_text(
        textwrap.dedent("""
        #define PY_SSIZE_T_CLEAN
        #include <Python.h>
        static PyObject *twice(PyObject *self, PyObject *arg) {
            long v = PyLong_AsLong(arg);
            return PyLong_FromLong(2 * v);
        }
        static PyMethodDef methods[] = {{"twice", twice, METH_O, NULL}, {NULL, NULL, 0, NULL}};
        static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "spdemo", NULL, -1, methods};
        PyMODINIT_FUNC PyInit_spdemo(void) { return PyModule_Create(&module); }
    """)
    )
    # Compile the way setuptools does: the dist's own sysconfig says how.
    code = """
        import shlex, subprocess, sys, sysconfig
        v = sysconfig.get_config_var
        src, out = sys.argv[1], sys.argv[2] + v("EXT_SUFFIX")
        obj = sys.argv[2] + ".o"
        cc = shlex.split(v("CC")) + shlex.split(v("CFLAGS")) + shlex.split(v("CCSHARED"))
        subprocess.run(cc + ["-I" + sysconfig.get_path("include"), "-c", src, "-o", obj], check=True)
        subprocess.run(shlex.split(v("LDSHARED")) + [obj, "-o", out], check=True)
        sys.path.insert(0, sys.argv[3])
        import spdemo
        assert spdemo.twice(21) == 42
        print(v("CC"), "|", v("LDSHARED"))
    """
    result = run_python(
        python_home, code, str(tmp_path / "spdemo.c"), str(tmp_path / "spdemo"), str(tmp_path),
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )  # fmt: skip
    assert "clang-19" not in result.stdout and "sysroot" not in result.stdout


def test_second_run_rebuilds_nothing(build):
    if build["first_time"] is None:
        pytest.skip("checking existing archives (STANDALONE_PYTHON_E2E_DIST): nothing was built")
    before = {
        key: hashlib.sha256(build[key].read_bytes()).hexdigest() for key in ("full", "install_only")
    }
    result, elapsed = run_build(build["dist"])
    assert result.returncode == 0, result.stderr[-4000:]
    print(f"second build: {elapsed:.0f}s (first: {build['first_time']:.0f}s)")
    assert "nothing to build" in result.stdout
    assert "distribution archives are up to date" in result.stdout
    for marker in ("debootstrap", "build image", "container engine"):
        assert marker not in result.stdout, marker
    for key in ("full", "install_only"):
        assert hashlib.sha256(build[key].read_bytes()).hexdigest() == before[key], key


def test_interpreter_does_not_need_libpython_so(python_home):
    """The executable does not link libpython, so a venv with copies (smoke check
    venv_with_copies) runs from anywhere."""
    infos = {info.path.name: info for info in scan_tree(python_home / "bin")}
    interpreter = infos[f"python{PYTHON}{_abiflags()}"]
    assert not [n for n in interpreter.needed if n.startswith("libpython")], interpreter.needed


def _exported_symbols(path: Path) -> set[str]:
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as handle:
        dynsym = ELFFile(handle).get_section_by_name(".dynsym")
        return {
            sym.name
            for sym in dynsym.iter_symbols()
            if sym["st_shndx"] != "SHN_UNDEF"
            and sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")
        }


def test_bundled_library_symbols_are_hidden(python_home):
    bundled = (
        "SSL_",
        "EVP_",
        "sqlite3_",
        "ffi_",
        "lzma_",
        "BZ2_",
        "deflate",
        "XML_",
        "mpd_",
        "uuid_",
        "Tcl_Create",
        "Tk_",
        "XOpen",
        "xcb_",
        "Xau",
    )
    for binary in (
        python_home / "bin" / f"python{PYTHON}{_abiflags()}",
        python_home / "lib" / f"libpython{PYTHON}{_abiflags()}.so.1.0",
    ):
        exported = _exported_symbols(binary)
        assert "Py_Initialize" in exported and "PyList_New" in exported, binary
        leaked = sorted(s for s in exported if s.startswith(bundled))
        assert not leaked, f"{binary.name} exports {leaked[:10]}"


def _abiflags() -> str:
    return ("t" if OPTIONS.freethreaded else "") + ("d" if OPTIONS.debug else "")


def test_interpreter_is_what_the_options_say(python_home):
    """sys and sysconfig reflect exactly the requested build."""
    result = run_python(
        python_home,
        """
        import json, sys, sysconfig
        print(json.dumps({
            "abiflags": sys.abiflags,
            "gil": sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True,
            "debug": hasattr(sys, "gettotalrefcount"),
            "config_args": sysconfig.get_config_var("CONFIG_ARGS"),
            "mimalloc": sysconfig.get_config_var("WITH_MIMALLOC"),
            "version": list(sys.version_info[:2]),
        }))
        """,
    )
    facts = json.loads(result.stdout)
    assert facts["version"] == [int(p) for p in PYTHON.split(".")]
    assert facts["abiflags"] == _abiflags()
    assert facts["gil"] is not OPTIONS.freethreaded
    assert facts["debug"] is OPTIONS.debug
    assert facts["mimalloc"] == 1
    args = facts["config_args"]
    assert ("--enable-optimizations" in args) is OPTIONS.pgo
    assert ("--with-lto=full" in args) is OPTIONS.lto
    assert ("--disable-gil" in args) is OPTIONS.freethreaded
    assert ("--with-pydebug" in args) is OPTIONS.debug
    assert ("--enable-bolt" in args) is bolt_applies(get_target(TARGET), OPTIONS, PYTHON)


def test_bolt_rewrote_the_interpreter_of_pgo_builds(python_home):
    from elftools.elf.elffile import ELFFile

    with (python_home / "bin" / f"python{PYTHON}{_abiflags()}").open("rb") as handle:
        sections = {section.name for section in ELFFile(handle).iter_sections()}
    bolted = bolt_applies(get_target(TARGET), OPTIONS, PYTHON)
    assert (".note.bolt_info" in sections) is bolted, sorted(sections)


@pytest.mark.skipif(OPTIONS.debug, reason="debug builds compile the interpreter with -Og")
def test_interpreter_dispatches_each_opcode_with_its_own_jump(python_home):
    """Computed gotos are only fast if every opcode ends in its own indirect jump; clang 19 merges
    them into one unless build-cpython.sh raises its tail-duplication limit."""
    objdump = require_tool("objdump")
    interpreter = python_home / "bin" / f"python{PYTHON}{_abiflags()}"
    listing = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", "--disassemble=_PyEval_EvalFrameDefault", str(interpreter)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    indirect_jumps = len(re.findall(r"\tjmpq?\s+\*", listing))
    # 3.13 has over 200 instructions (specialized ones included); a merged dispatch leaves 1 or 2.
    assert indirect_jumps >= 100, f"{indirect_jumps} indirect jumps in _PyEval_EvalFrameDefault"


# --- tkinter against a real X server -----------------------------------------------------------


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A private Xvfb server on a display number it picks itself (-displayfd); Debian's xvfb
    is installed under CI as root (require_tool), and a failed install fails these tests."""
    xvfb = require_tool("Xvfb")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        number = os.read(read_end, 16).decode().strip() if ready else ""
        if not number.isdigit():
            pytest.fail("Xvfb did not report a display number within 30 s")
        yield f":{number}"
    finally:
        os.close(read_end)
        server.terminate()
        server.wait(timeout=30)


TK_WINDOW = """
    import sys, tkinter
    root = tkinter.Tk()
    label = tkinter.Label(root, text="standalone tkinter")
    label.pack()
    root.update()
    assert label.cget("text") == "standalone tkinter", label.cget("text")
    print(root.tk.eval("info library"))
    print(root.tk.eval("set tk_library"))
    print(tkinter.TclVersion, tkinter.TkVersion, root.tk.call("info", "patchlevel"))
    root.destroy()
"""


def _check_tk_window(python_home: Path, display: str, interpreter: Path) -> None:
    """A window with a label, read back, from ``interpreter``; Tcl/Tk find their script
    libraries in the distribution (``python_home``) with no TCL_LIBRARY or TK_LIBRARY."""
    result = subprocess.run(
        [str(interpreter), "-c", textwrap.dedent(TK_WINDOW)],
        capture_output=True, text=True, cwd="/", check=False, timeout=120,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "DISPLAY": display},
    )  # fmt: skip
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    tcl_library, tk_library, versions = result.stdout.splitlines()
    assert Path(tcl_library).resolve() == (python_home / "lib" / "tcl8.6").resolve()
    assert Path(tk_library).resolve() == (python_home / "lib" / "tk8.6").resolve()
    assert versions.startswith("8.6 8.6 8.6."), versions


def test_tk_window_from_the_distribution(python_home, x_display):
    _check_tk_window(python_home, x_display, python_home / "bin" / "python3")


def test_tk_window_from_a_venv(python_home, x_display, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(
        [str(python_home / "bin" / "python3"), "-m", "venv", "--without-pip", str(venv)],
        check=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    _check_tk_window(python_home, x_display, venv / "bin" / "python")


def test_idle_and_turtle_start(python_home, x_display):
    run_python(
        python_home,
        """
        import tkinter, turtle
        screen = turtle.Screen()
        pen = turtle.Turtle()
        pen.forward(50)
        assert round(pen.xcor()) == 50
        screen.bye()

        from idlelib.editor import EditorWindow
        root = tkinter.Tk()
        root.withdraw()
        editor = EditorWindow(root=root)
        editor.text.insert("1.0", "print('hello')")
        root.update()
        assert editor.text.get("1.0", "end-1c") == "print('hello')"
        editor._close()
        root.destroy()
        """,
        env={"DISPLAY": x_display},
        timeout=120,
    )


def test_tkinter_needs_no_host_x11_or_tcl_library(python_home, full_tree):
    """_tkinter is built in: neither the interpreter nor libpython needs a shared X11, xcb,
    Xau, Tcl or Tk library (ldd resolves against this machine, where Xvfb brought libX11)."""
    doc = json.loads((full_tree / "PYTHON.json").read_text())
    tkinter = doc["build_info"]["extensions"]["_tkinter"][0]
    assert "shared_lib" not in tkinter, "expected _tkinter built into libpython"
    bundled = {link["name"] for link in tkinter["links"] if "path_static" in link}
    assert {"tcl8.6", "tk8.6", "X11", "xcb", "Xau"} <= bundled, tkinter["links"]
    for binary in (
        python_home / "bin" / f"python{PYTHON}{_abiflags()}",
        python_home / "lib" / f"libpython{PYTHON}{_abiflags()}.so.1.0",
    ):
        ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
        host = [
            line
            for line in ldd.stdout.splitlines()
            if any(name in line for name in ("libX11", "libxcb", "libXau", "libtcl", "libtk"))
        ]
        assert not host, f"{binary.name} loads {host}"
