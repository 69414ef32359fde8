"""Errors meant for people: each carries one line that names the problem and the fix."""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar


class BuildError(Exception):
    """A failure the user can act on; the CLI prints ``error: <message>`` and exits 1."""

    exit_code = 1


class UsageError(BuildError):
    """Bad command-line input; exit 2 like argparse."""

    exit_code = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error raises UsageError, which ``run_command`` prints as one line
    (argparse would print the whole usage and exit by itself)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


# `kill` and a closed terminal end a command the way Ctrl-C does, so its cleanup runs (build
# containers removed, chroot mounts undone, no partial files kept).
_TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def termination_as_interrupt() -> Iterator[None]:
    previous = {s: signal.signal(s, _raise_interrupt) for s in _TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


Config = TypeVar("Config")


def run_command(
    prog: str,
    argv: list[str],
    parse: Callable[[list[str]], Config],
    run: Callable[[Config], int | None],
    interrupted_hint: str = "",
) -> int:
    """Parse, run, and turn our errors into one line on stderr and an exit code."""
    try:
        config = parse(argv)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        with termination_as_interrupt():
            return run(config) or 0
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"error: interrupted{interrupted_hint}", file=sys.stderr)
        return 130
    except OSError as exc:
        # A full disk is the machine's state, not a bug: say where, and what to do.
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = exc.filename or "the build's files"
        print(
            f"error: no space left on the device while writing {where}; free some (old dist/ "
            "directories, `docker system prune`, the cache in ~/.cache/standalone-python) or "
            "write to another disk, then rerun",
            file=sys.stderr,
        )
        return 1
