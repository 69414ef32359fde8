"""Run a command where another CPU's loader and libraries are at the paths its programs name.

    python3 -I loader_namespace.py --scratch DIR --bind PATH=SOURCE ... -- COMMAND ...

An emulated program (qemu-user, started by binfmt_misc) asks for its loader by the absolute
path in its ELF file (``/lib/ld-linux-aarch64.so.1``), and that loader looks for libraries in
its multiarch directories (``/usr/lib/aarch64-linux-gnu``). This machine has neither, and must
not get them. So the command runs in a mount namespace of its own, where each ``--bind PATH``
shows ``SOURCE`` (a file or directory of the cached root filesystem), read-only:

- the directory holding PATH (``/lib`` is ``/usr/lib`` on a merged-/usr system) gets an overlay
  whose upper layer, on a tmpfs at ``--scratch``, only adds an empty mount point named like PATH;
- SOURCE is bind-mounted there and made read-only.

Everything else is this machine's, and every process the command starts, whatever its
environment, sees the same files. The mounts exist only in the namespace: they vanish with its
last process, and nothing is written outside ``--scratch`` (which stays an empty directory).

Needs root (mount(2) in a new mount namespace). Standard library only: it is run as a script
by the interpreter running test-dist, with ``-I``, never imported by the programs it starts.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
# mount(2) options are comma-separated and overlayfs splits lowerdir at colons.
_UNSAFE_IN_OPTIONS = frozenset(",:\\=")
FAILED = 125  # exit status of this script's own failures, as env(1) and unshare(1) use it


class NamespaceError(Exception):
    """Why the namespace could not be made; printed as one line."""


@dataclass(frozen=True)
class Bind:
    path: str  # absolute, as the emulated programs name it
    source: str  # the file or directory of the root filesystem that appears there


@dataclass(frozen=True)
class Mount:
    """One mount(2) call."""

    target: str
    source: str | None = None
    fstype: str | None = None
    flags: int = 0
    data: str | None = None


@dataclass(frozen=True)
class MakeDir:
    path: str


@dataclass(frozen=True)
class MakeFile:
    path: str


Operation = Mount | MakeDir | MakeFile


def _check_option_path(path: str) -> str:
    if _UNSAFE_IN_OPTIONS & set(path):
        raise NamespaceError(f"{path}: a path with , : = or \\ cannot be an overlayfs option")
    return path


def plan(
    binds: list[Bind],
    scratch: str,
    realpath: Callable[[str], str] = os.path.realpath,
    isdir: Callable[[str], bool] = os.path.isdir,
) -> list[Operation]:
    """The operations, in order, that make every bind appear (after unshare(CLONE_NEWNS)).

    ``realpath`` and ``isdir`` look at this machine's files: where each PATH's directory really
    is, whether it exists, and whether each SOURCE is a directory.
    """
    places: dict[str, Bind] = {}  # where each bind lands on this machine
    for bind in binds:
        if not bind.path.startswith("/") or bind.path.endswith("/"):
            raise NamespaceError(f"{bind.path}: give an absolute path of a file or directory")
        parent, name = os.path.split(bind.path)
        where = realpath(parent)
        if not isdir(where):
            raise NamespaceError(f"this machine has no directory {parent} to hold {bind.path}")
        place = os.path.join(where, name)
        other = places.get(place)
        if other is not None and other.source != bind.source:
            raise NamespaceError(f"{bind.path} and {other.path} are both {place} here")
        places[place] = bind
    directories = sorted({os.path.dirname(place) for place in places})
    operations: list[Operation] = [
        Mount("/", flags=MS_REC | MS_PRIVATE),  # nothing done here reaches other namespaces
        Mount(_check_option_path(scratch), "loader-scratch", "tmpfs", data="mode=0700"),
    ]
    for index, directory in enumerate(directories):
        upper = os.path.join(scratch, str(index), "upper")
        work = os.path.join(scratch, str(index), "work")
        operations += [MakeDir(upper), MakeDir(work)]
        for place, bind in sorted(places.items()):
            if os.path.dirname(place) == directory:
                point = os.path.join(upper, os.path.basename(place))
                operations.append(MakeDir(point) if isdir(bind.source) else MakeFile(point))
        options = f"lowerdir={_check_option_path(directory)},upperdir={upper},workdir={work}"
        operations.append(Mount(directory, "loader-overlay", "overlay", data=options))
    for place, bind in sorted(places.items()):
        operations += [
            Mount(place, bind.source, flags=MS_BIND),
            Mount(place, flags=MS_BIND | MS_REMOUNT | MS_RDONLY),  # the cache stays as it is
        ]
    return operations


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    libc.unshare.argtypes = [ctypes.c_int]
    return libc


def _encode(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def apply(operations: list[Operation], libc: ctypes.CDLL) -> None:
    for operation in operations:
        try:
            if isinstance(operation, MakeDir):
                os.makedirs(operation.path)
            elif isinstance(operation, MakeFile):
                os.close(os.open(operation.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            elif libc.mount(
                _encode(operation.source), _encode(operation.target), _encode(operation.fstype),
                operation.flags, _encode(operation.data),
            ) != 0:  # fmt: skip
                what = operation.fstype or operation.source or "propagation"
                raise NamespaceError(
                    f"mounting {what} on {operation.target}: {os.strerror(ctypes.get_errno())}"
                )
        except OSError as exc:
            raise NamespaceError(f"{exc.filename}: {exc.strerror}") from None


def enter(binds: list[Bind], scratch: str) -> None:
    """Move this process into a new mount namespace and make the binds there."""
    operations = plan(binds, scratch)
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        raise NamespaceError(
            f"cannot make a mount namespace: {os.strerror(ctypes.get_errno())} (needs root)"
        )
    apply(operations, libc)


def initial_environment() -> dict[str, str]:
    """The environment this process was started with: the interpreter running this script may
    have added to ``os.environ`` (LC_CTYPE, by PEP 538 locale coercion); the command gets none
    of that."""
    with open("/proc/self/environ", "rb") as handle:
        entries = handle.read().split(b"\0")
    pairs = (entry.partition(b"=") for entry in entries if b"=" in entry)
    return {os.fsdecode(key): os.fsdecode(value) for key, _, value in pairs}


def _bind(text: str) -> Bind:
    path, sep, source = text.partition("=")
    if not sep or not source:
        raise argparse.ArgumentTypeError(f"{text!r} is not PATH=SOURCE")
    return Bind(path, source)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="loader_namespace.py",
        description="Run a command where another CPU's loader and libraries are at the paths "
        "its programs name (a private mount namespace; root).",
    )
    parser.add_argument("--scratch", required=True, help="an empty directory for the tmpfs")
    parser.add_argument("--bind", type=_bind, action="append", default=[], metavar="PATH=SOURCE")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    environment = initial_environment()
    try:
        enter(args.bind, args.scratch)
        os.execvpe(command[0], command, environment)
    except NamespaceError as exc:
        print(f"loader namespace: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"loader namespace: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
    return FAILED


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
