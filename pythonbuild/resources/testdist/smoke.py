"""Smoke tests of a standalone Python distribution, run by the distribution's own interpreter.

    <dist>/bin/python3 smoke.py --python-json PYTHON.json --results results.json [--work DIR]
                                [--isolated] [--only CHECK ...] [--exit-zero]

Standard library only and no project code, so it runs wherever the distribution runs: on the
build host or in a bare container of another Linux system. Every check runs in its own child
process (the same interpreter), so a crash in one (a segfault in a bundled library, say) is
reported as that check's failure and the others still run.

``--results`` receives JSON: ``{"python": sys.version, "checks": [{"name", "outcome"
("passed" | "failed" | "skipped"), "seconds", "message", "details"}]}``. The exit status is 1
when a check failed (0 with ``--exit-zero``, for callers that read the results file).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path

CHECK_TIMEOUT = 600  # seconds; creating a venv with pip is the slowest check (~10 s)
RESULT_MARKER = "SMOKE-RESULT:"


class Skip(Exception):
    """The check cannot run here (e.g. no terminfo entry); says why."""


class Context:
    """What every check may use: the distribution's metadata and a scratch directory."""

    def __init__(self, metadata: dict, work: Path, isolated: bool) -> None:
        self.metadata = metadata
        self.work = work
        self.isolated = isolated
        self.prefix = Path(sys.prefix)

    def run_python(self, code: str, *args: str, env: dict[str, str] | None = None) -> str:
        """Run ``code`` in a fresh interpreter of this distribution; returns its stdout."""
        return run([sys.executable, "-c", textwrap.dedent(code), *args], env=env)


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    base = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/")}
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd or "/",
        timeout=CHECK_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd[:3])}... exited with {result.returncode}\n"
            f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
        )
    return result.stdout


# ---------------------------------------------------------------------------------------------
# The checks: each returns a short message for the report, raises AssertionError (or anything)
# to fail, or Skip.

CHECKS: dict[str, Callable[[Context], str]] = {}


def check(function: Callable[[Context], str]) -> Callable[[Context], str]:
    CHECKS[function.__name__.removeprefix("check_")] = function
    return function


@check
def check_version_matches_metadata(ctx: Context) -> str:
    doc = ctx.metadata
    assert sys.version.split()[0] == doc["python_version"], (sys.version, doc["python_version"])
    assert sys.implementation.cache_tag == doc["python_implementation_cache_tag"]
    assert sys.implementation.hexversion == doc["python_implementation_hex_version"]
    assert sys.abiflags == doc["python_config_vars"]["ABIFLAGS"], sys.abiflags
    libc, libc_version = platform.libc_ver()
    return f"{sys.version.split()[0]} on {libc} {libc_version}"


@check
def check_runs_from_path_with_space(ctx: Context) -> str:
    # The callers (test-dist, the end-to-end test) extract below a directory whose name has a
    # space: the classic way a hard-coded or badly quoted prefix shows up.
    assert " " in str(ctx.prefix), f"{ctx.prefix} has no space; extract the dist below one"
    libdir = Path(sysconfig.get_config_var("LIBDIR"))
    assert libdir == ctx.prefix / "lib", (libdir, ctx.prefix)
    include = Path(sysconfig.get_path("include"))
    assert ctx.prefix in include.parents, include
    out = run([str(ctx.prefix / "bin" / "python3"), "-c", "import sys; print(sys.prefix)"])
    assert Path(out.strip()) == ctx.prefix, out
    return str(ctx.prefix)


def _extension_modules(ctx: Context) -> list[str]:
    """Modules PYTHON.json lists, less the test-support shared objects install_only omits."""
    modules = []
    for name, variants in ctx.metadata["build_info"]["extensions"].items():
        shared = variants[0].get("shared_lib")
        if shared and not (ctx.prefix / Path(shared).relative_to("install")).exists():
            continue
        modules.append(name)
    return sorted(modules)


@check
def check_extension_modules_import(ctx: Context) -> str:
    modules = _extension_modules(ctx)
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # every module is tried, then all failures reported together
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not failed, "\n".join(failed)
    return f"{len(modules)} modules"


def _tls_echo(server_ctx, client_ctx, server_hostname: str | None = None) -> str:
    """Handshake over a socket pair, echo upper-cased; returns the protocol version."""
    import socket
    import threading

    server_sock, client_sock = socket.socketpair()

    def serve() -> None:
        with server_ctx.wrap_socket(server_sock, server_side=True) as tls:
            tls.sendall(tls.recv(5).upper())

    thread = threading.Thread(target=serve)
    thread.start()
    with client_ctx.wrap_socket(client_sock, server_hostname=server_hostname) as tls:
        tls.sendall(b"hello")
        assert tls.recv(5) == b"HELLO"
        version = tls.version()
    thread.join()
    return version


@check
def check_ssl(ctx: Context) -> str:
    import ssl

    context = ssl.create_default_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert ssl.OPENSSL_VERSION.startswith("OpenSSL 3"), ssl.OPENSSL_VERSION
    assert ssl.OPENSSL_VERSION_INFO >= (3,), ssl.OPENSSL_VERSION_INFO
    done = []
    # TLS 1.3 with a pre-shared key needs no certificate, so it runs from any distribution.
    key = bytes(range(32))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.set_psk_server_callback(lambda identity: key if identity == "smoke" else b"")
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE
    client_ctx.set_psk_client_callback(lambda hint: ("smoke", key))
    for tls_context in (server_ctx, client_ctx):
        tls_context.minimum_version = ssl.TLSVersion.TLSv1_3
    done.append(f"PSK {_tls_echo(server_ctx, client_ctx)}")
    # With the test suite's CA and localhost certificate (full archives), verify a chain too.
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    certdata = ctx.prefix / "lib" / version / "test" / "certdata"
    if (certdata / "keycert3.pem").exists():
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(certdata / "keycert3.pem")
        client_ctx = ssl.create_default_context(cafile=certdata / "pycacert.pem")
        done.append(f"verified {_tls_echo(server_ctx, client_ctx, 'localhost')}")
    assert all(d.endswith("TLSv1.3") for d in done), done
    return f"{ssl.OPENSSL_VERSION}; handshakes: {', '.join(done)}"


@check
def check_hashlib(ctx: Context) -> str:
    import hashlib as h

    assert h.sha256(b"abc").hexdigest().startswith("ba7816bf8f01cfea")
    assert h.sha3_256(b"").hexdigest().startswith("a7ffc6f8bf1ed766")
    assert h.blake2b(b"", digest_size=16).hexdigest() == "cae66941d9efbd404e4d88758ea67670"
    assert h.new("md5", b"", usedforsecurity=False).hexdigest().startswith("d41d8cd9")
    # OpenSSL-only algorithms: these come from _hashlib, not the built-in fallbacks.
    assert "sha512_256" in h.algorithms_available, sorted(h.algorithms_available)
    assert hasattr(h, "scrypt"), "hashlib.scrypt missing: _hashlib is not OpenSSL-backed"
    h.scrypt(b"pw", salt=b"salt", n=16, r=1, p=1)
    return f"{len(h.algorithms_available)} algorithms"


@check
def check_sqlite3(ctx: Context) -> str:
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(body)")
    db.executemany("INSERT INTO docs VALUES (?)", [("relocatable python",), ("other",)])
    rows = db.execute("SELECT body FROM docs WHERE docs MATCH 'relocatable'").fetchall()
    assert rows == [("relocatable python",)], rows
    db.execute("CREATE VIRTUAL TABLE old USING fts4(body)")
    assert db.execute("""SELECT json_extract('{"a": 2}', '$.a')""").fetchone() == (2,)
    db.execute("CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)")
    assert hasattr(db, "enable_load_extension"), "built without loadable extensions"
    return sqlite3.sqlite_version


@check
def check_compression(ctx: Context) -> str:
    import bz2
    import lzma
    import zlib

    data = b"standalone" * 1000
    codecs = [bz2, lzma, zlib]
    try:
        from compression import zstd  # 3.14+

        codecs.append(zstd)
    except ImportError:
        pass
    for codec in codecs:
        assert codec.decompress(codec.compress(data)) == data, codec.__name__
    return ", ".join(c.__name__ for c in codecs) + f"; zlib {zlib.ZLIB_RUNTIME_VERSION}"


@check
def check_ctypes(ctx: Context) -> str:
    import ctypes
    import ctypes.util

    if "shared-library" not in ctx.metadata["python_extension_module_loading"]:
        return _static_ctypes(ctx)
    libc = ctypes.CDLL(None)
    assert libc.strlen(b"four") == 4
    # A callback through libffi's closures: qsort calling back into Python.
    values = (ctypes.c_int * 5)(5, 1, 4, 2, 3)
    compare = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)
    )
    libc.qsort(values, len(values), ctypes.sizeof(ctypes.c_int), compare(lambda a, b: a[0] - b[0]))
    assert list(values) == [1, 2, 3, 4, 5], list(values)
    return "libc call and libffi callback"


def _static_ctypes(ctx: Context) -> str:
    """A +static interpreter has no loader: ctypes works without one, and opening a library
    or importing a compiled extension fails with an error that says why."""
    import ctypes
    import importlib.machinery

    double = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda value: 2 * value)
    assert double(21) == 42  # a libffi closure called through its C function pointer
    buffer = ctypes.create_string_buffer(8)
    ctypes.memmove(buffer, b"static", 6)
    assert buffer.value == b"static"
    reason = "Dynamic loading not supported"
    try:
        ctypes.CDLL("libc.so")
    except OSError as exc:
        assert reason in str(exc), exc
    else:
        raise AssertionError("a static interpreter opened a shared library")
    module_dir = Path(tempfile.mkdtemp(prefix="ext ", dir=ctx.work))
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (module_dir / f"compiled{suffix}").write_bytes(b"\x7fELF")
    code = "import sys; sys.path.insert(0, sys.argv[1]); import compiled"
    try:
        ctx.run_python(code, str(module_dir))
    except AssertionError as exc:  # run's report of the failed import, with its stderr
        assert "ImportError" in str(exc) and reason in str(exc), exc
    else:
        raise AssertionError("a static interpreter imported a compiled extension")
    return f"libffi callback without a loader; dlopen and compiled imports refused ({reason})"


@check
def check_decimal(ctx: Context) -> str:
    import _decimal
    import decimal

    assert decimal.Decimal is _decimal.Decimal, "decimal is the pure-Python fallback"
    decimal.getcontext().prec = 50
    assert str(decimal.Decimal(1) / decimal.Decimal(7))[:12] == "0.1428571428"
    return f"libmpdec {decimal.__libmpdec_version__}"


@check
def check_uuid(ctx: Context) -> str:
    import _uuid
    import uuid

    assert _uuid.has_uuid_generate_time_safe is not None
    u = uuid.uuid1()
    assert u.version == 1 and uuid.UUID(str(uuid.uuid4())).version == 4
    return str(u.variant)


def _terminfo_has_xterm() -> bool:
    dirs = ("/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo", "/usr/lib/terminfo")
    return any(Path(d, "x", "xterm").exists() for d in dirs)


@check
def check_readline_and_curses(ctx: Context) -> str:
    code = """
        import readline, curses
        assert readline.backend == "editline", readline.backend
        readline.add_history("one")
        assert readline.get_current_history_length() == 1
        curses.setupterm("xterm", 1)
        assert curses.tigetstr("clear")
        print(readline._READLINE_LIBRARY_VERSION, curses.ncurses_version)
    """
    if not _terminfo_has_xterm():
        ctx.run_python("import readline, curses")
        raise Skip("no xterm terminfo entry on this system (modules import)")
    return ctx.run_python(code, env={"TERM": "xterm"}).strip()


@check
def check_zoneinfo(ctx: Context) -> str:
    # Time zones come from the system's tz database or the tzdata package. A system with
    # neither (a bare musl root, scratch) must give a clear ZoneInfoNotFoundError, not a crash
    # and not a wrong zone.
    import importlib.util
    import zoneinfo

    code = """
        import datetime, zoneinfo
        try:
            zone = zoneinfo.ZoneInfo("Europe/Berlin")
        except zoneinfo.ZoneInfoNotFoundError as exc:
            print("absent:", type(exc).__name__, exc)
        else:
            print("found:", datetime.datetime(2026, 7, 1, tzinfo=zone).utcoffset())
    """
    out = ctx.run_python(code).strip()
    system = any(Path(d, "Europe", "Berlin").is_file() for d in zoneinfo.TZPATH)
    package = importlib.util.find_spec("tzdata") is not None
    if system or package:
        assert out == "found: 2:00:00", out
        return f"Europe/Berlin from {'the system' if system else 'the tzdata package'}: {out}"
    assert out.startswith("absent: ZoneInfoNotFoundError") and "Europe/Berlin" in out, out
    return f"no tz database here, a clear error: {out.removeprefix('absent: ')}"


@check
def check_multiprocessing(ctx: Context) -> str:
    # Worker processes, semaphores and shared memory: needs /dev/shm, which containers vary on.
    code = """
        import multiprocessing, multiprocessing.shared_memory
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            assert pool.map(abs, [-1, -2, 3]) == [1, 2, 3]
        shm = multiprocessing.shared_memory.SharedMemory(create=True, size=16)
        shm.buf[0] = 7
        shm.close(); shm.unlink()
        print("ok")
    """
    return ctx.run_python(code).strip()


def _write_wheel(dest: Path) -> Path:
    """A minimal pure-Python wheel, so pip can be exercised without an index or network."""
    name, version = "sp_smoke", "1.0"
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "def answer():\n    return 42\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: smoke\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    wheel = dest / f"{name}-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())
            record.append(f"{path},sha256={digest.rstrip(b'=').decode()},{len(text.encode())}")
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


@check
def check_venv_and_pip(ctx: Context) -> str:
    work = Path(tempfile.mkdtemp(prefix="venv ", dir=ctx.work))
    wheel = _write_wheel(work)
    venv = work / "my venv"
    ctx.run_python("import sys, venv; venv.create(sys.argv[1], with_pip=True)", str(venv))
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "--no-index", "--disable-pip-version-check", str(wheel)])
    out = run([python, "-c", "import sp_smoke, sys; print(sp_smoke.answer(), sys.prefix)"])
    answer, prefix = out.strip().split(" ", 1)
    assert answer == "42" and Path(prefix) == venv, out
    return "venv with pip; local wheel installed and imported"


@check
def check_venv_with_copies(ctx: Context) -> str:
    # A venv with the executable copied away from lib/ must still find libpython and the stdlib.
    venv = Path(tempfile.mkdtemp(prefix="copies venv ", dir=ctx.work))
    ctx.run_python("import sys, venv; venv.create(sys.argv[1], symlinks=False)", str(venv))
    assert not (venv / "bin" / "python3").is_symlink()
    out = run([str(venv / "bin" / "python3"), "-c", "import ssl, sys; print(sys.prefix)"])
    assert Path(out.strip()) == venv, out
    return "ok"


@check
def check_scripts_are_relocatable(ctx: Context) -> str:
    for script in (ctx.prefix / "bin").iterdir():
        if script.is_file() and not script.is_symlink() and script.read_bytes()[:2] == b"#!":
            first = script.read_text(errors="replace").splitlines()[0]
            assert "/install" not in first, (script.name, first)
    for pc in (ctx.prefix / "lib" / "pkgconfig").glob("*.pc"):
        assert "/install" not in pc.read_text(), pc.name
    pip = ctx.prefix / "bin" / "pip3"
    if not pip.exists():
        raise Skip("no bin/pip3 in this distribution")
    shell = pip.read_text(errors="replace").splitlines()[0].removeprefix("#!").split()[0]
    if not Path(shell).exists():  # an empty container: nothing but the distribution
        raise Skip(f"bin/pip3 starts through {shell}, which this system does not have")
    out = run([str(pip), "--version"])
    assert str(ctx.prefix) in out, out
    return out.strip()


@check
def check_no_system_python(ctx: Context) -> str:
    # In a bare container, prove the distribution is the only Python there: nothing it uses
    # can have come from a system installation.
    if not ctx.isolated:
        raise Skip("only checked in containers (--isolated)")
    found = [
        str(path)
        for pattern in (
            "usr/bin/python*",
            "usr/local/bin/python*",
            "usr/lib/python3*",
            "usr/lib/*/libpython*",
        )
        for path in Path("/").glob(pattern)
    ]
    assert not found, f"the system has a Python of its own: {found}"
    assert shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") is None
    return "none"


# ---------------------------------------------------------------------------------------------
# Driver


def run_one(name: str, ctx: Context) -> dict:
    started = time.monotonic()
    result = {"name": name, "outcome": "passed", "message": "", "details": ""}
    try:
        result["message"] = CHECKS[name](ctx) or ""
    except Skip as exc:
        result.update(outcome="skipped", message=str(exc))
    except BaseException as exc:  # a check's failure, whatever it is, is reported, not raised
        text = str(exc).strip()
        result.update(
            outcome="failed",
            message=(text.splitlines() or [type(exc).__name__])[0],
            details=traceback.format_exc(),
        )
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def run_in_child(name: str, argv: list[str]) -> dict:
    """Run one check in a child interpreter; a crash or hang becomes that check's failure."""
    started = time.monotonic()
    cmd = [sys.executable, os.path.abspath(__file__), *argv, "--child", name]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=CHECK_TIMEOUT + 60, check=False
        )
    except subprocess.TimeoutExpired:
        return {
            "name": name,
            "outcome": "failed",
            "message": "timed out",
            "details": "",
            "seconds": round(time.monotonic() - started, 3),
        }
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    return {
        "name": name,
        "outcome": "failed",
        "message": f"the check's process ended with status {proc.returncode} and no result",
        "details": f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}",
        "seconds": round(time.monotonic() - started, 3),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python-json", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None, help="scratch directory")
    parser.add_argument(
        "--isolated",
        action="store_true",
        help="running in a bare system: also check that it has no Python",
    )
    parser.add_argument("--only", nargs="+", choices=sorted(CHECKS), default=None)
    parser.add_argument("--exit-zero", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    metadata = json.loads(args.python_json.read_text())
    if args.child:
        work = args.work or Path(tempfile.gettempdir())
        print(
            RESULT_MARKER + json.dumps(run_one(args.child, Context(metadata, work, args.isolated)))
        )
        return 0
    names = args.only or list(CHECKS)
    with tempfile.TemporaryDirectory(prefix="smoke work ") as scratch:
        forwarded = [
            "--python-json",
            str(args.python_json.resolve()),
            "--results",
            str(args.results),
            "--work",
            str(args.work or scratch),
        ]
        if args.isolated:
            forwarded.append("--isolated")
        checks = []
        for name in names:
            result = run_in_child(name, forwarded)
            checks.append(result)
            print(
                f"{result['outcome']:7} {name} ({result['seconds']:.1f}s) {result['message']}",
                flush=True,
            )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"python": sys.version, "checks": checks}, indent=1) + "\n")
    failed = any(c["outcome"] == "failed" for c in checks)
    return 0 if args.exit_zero or not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
