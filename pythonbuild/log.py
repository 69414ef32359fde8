"""Progress output for people: one line per step with elapsed time, and log tails on failure."""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import BuildError

_START = time.monotonic()


def _stamp() -> str:
    elapsed = int(time.monotonic() - _START)
    return f"[{elapsed // 60:3d}:{elapsed % 60:02d}]"


def info(message: str) -> None:
    print(f"{_stamp()} {message}", flush=True)


def warn(message: str) -> None:
    print(f"{_stamp()} warning: {message}", file=sys.stderr, flush=True)


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


@contextmanager
def step(title: str) -> Iterator[None]:
    """Print ``title ... done in Xs`` around a block; on error print the failure and re-raise."""
    info(f"{title} ...")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        info(f"{title}: FAILED after {format_seconds(time.monotonic() - started)}")
        raise
    info(f"{title}: done in {format_seconds(time.monotonic() - started)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        with path.open("r", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except OSError:
        return ""


class LoggedFailure(BuildError):
    """A step failed; its log holds the details. The message carries the log's last lines."""

    def __init__(self, what: str, log_path: Path, lines: int = 30):
        self.log_path = log_path
        text = tail(log_path, lines).rstrip()
        super().__init__(
            f"{what}; last {lines} lines of {log_path}:\n{text}\n"
            f"error: {what}; full log: {log_path}"
        )
