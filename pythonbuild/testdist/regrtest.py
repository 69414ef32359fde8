"""CPython's regression suite (``python -m test``) run from an extracted full distribution."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .exclusions import Exclusion, regrtest_arguments
from .process import stream_process
from .results import (
    FAILED,
    CaseResult,
    file_level_cases,
    parse_regrtest_output,
    read_regrtest_junit,
)

# Resources a test run may use. Not enabled: network and urlfetch (builds and CI have no
# network), gui and audio (no display or sound device), largefile (> 2 GiB of disk per test),
# cpu and walltime (long tests of the interpreter's speed and timing, not of the distribution),
# xpickle (needs older Pythons installed).
RESOURCES = "all,-network,-urlfetch,-gui,-audio,-largefile,-cpu,-walltime,-xpickle"


@dataclass(frozen=True)
class RegrtestSettings:
    jobs: int = 2
    timeout: int = 900  # seconds per test file; the slowest file takes ~3 minutes on 2 cores
    nice: int = 10
    selection: tuple[str, ...] = ()  # test modules to run; empty: the whole suite
    launcher: tuple[str, ...] = ()  # a command prefix to run it under (Emulation.launcher)


def regrtest_command(
    python: Path, settings: RegrtestSettings, junit: Path, exclusion_args: list[str]
) -> list[str]:
    cmd = list(settings.launcher)
    cmd += ["nice", "-n", str(settings.nice)] if settings.nice else []
    # --rerun: a file that fails runs once more, verbosely, alone; only failing twice counts
    # (a 2-core machine under load makes some timing tests flaky) and the log shows the details.
    cmd += [
        str(python),
        "-m",
        "test",
        f"-j{settings.jobs}",
        "--timeout",
        str(settings.timeout),
        "-u",
        RESOURCES,
        "--rerun",
        "--slowest",
        "--junit-xml",
        str(junit),
    ]
    return cmd + exclusion_args  # last: -x makes every following argument an exclusion


def run_regrtest(
    python: Path,
    exclusions: list[Exclusion],
    settings: RegrtestSettings,
    work: Path,
    log_file: Path,
) -> list[CaseResult]:
    """Run the suite; returns one case per test (plus per-file skips and failures)."""
    tmp = work / "regrtest-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    junit = work / "regrtest-junit.xml"
    cmd = regrtest_command(
        python,
        settings,
        junit,
        regrtest_arguments(exclusions, work / "ignore.txt", settings.selection),
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp),
        "HOME": os.environ.get("HOME", str(tmp)),
    }
    status, output = stream_process(cmd, env, tmp, log_file)
    return regrtest_cases(junit, output, status, log_file)


def regrtest_cases(
    junit: Path, output: str, status: int | None, log_file: Path, suite: str = "regrtest"
) -> list[CaseResult]:
    """One case per test of a finished run (its JUnit file, if written, and what its output
    says per file), plus a failed case when it exited non-zero with no failing test to show
    for it (``status`` None: it left no status at all)."""
    cases = read_regrtest_junit(junit, suite) if junit.exists() else []
    cases += file_level_cases(parse_regrtest_output(output), cases, suite)
    if status != 0 and not any(c.outcome == FAILED for c in cases):
        cases.append(
            CaseResult(
                suite,
                "regrtest",
                FAILED,
                message=f"regrtest exited with status {status}; see {log_file}",
            )
        )
    return cases
