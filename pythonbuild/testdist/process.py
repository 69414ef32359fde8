"""Run a test process with its output streamed to the console and a log file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..errors import BuildError


def stream_process(
    cmd: list[str], env: dict[str, str], cwd: Path | str, log_file: Path, echo_prefix: str = ""
) -> tuple[int, str]:
    """Run ``cmd``; returns its exit status and output (stdout and stderr together).

    The process gets its own session, so on Ctrl-C or a kill of test-dist (see
    errors.termination_as_interrupt) it is ended with every worker it started, not left running.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    with log_file.open("w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        try:
            process = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                errors="replace", env=env, cwd=cwd, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            raise BuildError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
        assert process.stdout is not None
        try:
            for line in process.stdout:
                sys.stdout.write(echo_prefix + line)
                sys.stdout.flush()
                log.write(line)
                lines.append(line)
            status = process.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    return status, "".join(lines)
