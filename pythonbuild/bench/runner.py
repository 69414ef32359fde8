"""The interleaved rounds: every benchmark on every interpreter, one process at a time.

For round 1..R, for each benchmark, each interpreter runs that benchmark's script with pyperf
options (``--processes P --values V --warmups W --append FILE``). The interpreter order rotates
by round and benchmark, so slow drifts of the machine (another job starting, thermal limits)
spread evenly over the interpreters instead of landing on whichever ran last.

pyperf calibrates the loop count in an extra process; after round 1 the calibrated count is
passed back with ``--loops`` (for scripts that hold one benchmark), which saves that process in
every later round and keeps the values of all rounds comparable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import log
from ..errors import BuildError
from .benchmarks import StagedBenchmark
from .interpreters import Interpreter
from .results import Measurement, read_pyperf_file

SKIPPED_EXIT_STATUS = 77  # the stdlib-c script's "not available on this interpreter"


@dataclass(frozen=True)
class RunSettings:
    rounds: int  # with target_ci: the least number of rounds
    processes: int
    values: int
    warmups: int
    timeout: float = 1800.0  # seconds for one script invocation
    # Run more rounds, up to max_rounds, until every 95% interval of a geometric mean is at
    # most target_ci wide (the ``enough`` test run_rounds is given decides).
    target_ci: float | None = None
    max_rounds: int | None = None
    # CPUs pyperf pins its worker processes to (pyperf --affinity, e.g. "1" or "2-3"); None:
    # pyperf's own choice (the isolated CPUs if the kernel has any, else no pinning).
    affinity: str | None = None

    @property
    def round_limit(self) -> int:
        return self.max_rounds if self.target_ci is not None and self.max_rounds else self.rounds


@dataclass
class Contender:
    """An interpreter ready to run: its venv, and what it cannot run (benchmark -> why)."""

    interpreter: Interpreter
    venv_python: Path
    unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.interpreter.label


@dataclass
class Outcome:
    """How one benchmark went on one interpreter."""

    result_file: Path
    log_file: Path
    status: str = "pending"  # "ok", "failed" or "unavailable"
    reason: str = ""
    loops: int | None = None


def rotated(items: list, offset: int) -> list:
    if not items:
        return []
    offset %= len(items)
    return items[offset:] + items[:offset]


def pyperf_command(
    contender: Contender, staged: StagedBenchmark, settings: RunSettings, outcome: Outcome
) -> list[str]:
    options = [
        "--processes", str(settings.processes),
        "--values", str(settings.values),
        "--warmups", str(settings.warmups),
    ]  # fmt: skip
    if outcome.loops:
        options += ["--loops", str(outcome.loops)]
    if settings.affinity:
        options += ["--affinity", settings.affinity]
    interpreter = contender.interpreter
    if interpreter.environ:  # pyperf gives its workers a clean environment otherwise
        options += ["--inherit-environ", ",".join(sorted(interpreter.environ))]
    return interpreter.command(
        contender.venv_python,
        str(staged.script),
        *staged.benchmark.args,
        *options,
        "--append",
        str(outcome.result_file),
    )


def run_logged(cmd: list[str], logfile: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``cmd`` with output appended to ``logfile``; returns (exit status, its output)."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("a+") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        start = out.tell()
        # A session of its own so that a timeout or Ctrl-C ends pyperf's workers too.
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            out.write(f"\nkilled after {timeout:.0f} s\n")
            status = -signal.SIGKILL
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        out.seek(start)
        return status, out.read()


def failure_reason(status: int, output: str, logfile: Path) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    how = f"killed by signal {-status}" if status < 0 else f"exit {status}"
    return f"{how}: {last[:200]} (log: {logfile})"


def _format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _short_result(measurements: list[Measurement]) -> str:
    if not measurements:
        return "no values"
    if len(measurements) == 1 and measurements[0].unit == "second":
        return _format_time(measurements[0].mean)
    return f"{len(measurements)} benchmarks"


def run_rounds(
    contenders: list[Contender],
    benchmarks: list[StagedBenchmark],
    settings: RunSettings,
    raw_dir: Path,
    log_dir: Path,
    env: dict[str, str],
    enough: Callable[[dict[tuple[str, str], Outcome]], bool] | None = None,
) -> tuple[dict[tuple[str, str], Outcome], int]:
    """Run everything; returns the outcome of each (interpreter label, benchmark name) and the
    number of rounds run: ``settings.rounds``, or with ``enough`` at least that many and then
    more, up to ``settings.round_limit``, until ``enough(outcomes)`` says the results are
    precise enough (it is asked after every round from the ``settings.rounds``-th)."""
    outcomes: dict[tuple[str, str], Outcome] = {}
    for contender in contenders:
        for staged in benchmarks:
            outcome = Outcome(
                result_file=raw_dir / contender.label / f"{staged.name}.json",
                log_file=log_dir / contender.label / f"{staged.name}.log",
            )
            if staged.name in contender.unavailable:
                outcome.status, outcome.reason = "unavailable", contender.unavailable[staged.name]
            outcomes[contender.label, staged.name] = outcome
    raw_dir.mkdir(parents=True, exist_ok=True)
    round_times: list[float] = []
    limit = settings.round_limit if enough is not None else settings.rounds
    rounds_run = 0
    for round_index in range(limit):
        round_start = time.monotonic()
        for bench_index, staged in enumerate(benchmarks):
            started = time.monotonic()
            shown = []
            for contender in rotated(contenders, round_index + bench_index):
                outcome = outcomes[contender.label, staged.name]
                if outcome.status in ("failed", "unavailable"):
                    continue
                shown.append(_run_benchmark(contender, staged, settings, outcome, env))
            if shown:
                log.info(
                    f"round {round_index + 1}/{limit} {staged.name}: "
                    f"{', '.join(shown)} ({time.monotonic() - started:.1f}s)"
                )
        round_times.append(time.monotonic() - round_start)
        rounds_run = round_index + 1
        if rounds_run >= settings.rounds and enough is not None and enough(outcomes):
            break
        left = max(settings.rounds - rounds_run, 0 if enough is None else 1)
        if left and rounds_run < limit:
            # Round 1 also calibrates; later rounds are the better predictor once there is one.
            per_round = round_times[-1]
            more = "at least " if enough is not None else ""
            log.info(
                f"round {rounds_run}/{limit} took {log.format_seconds(per_round)};"
                f" {more}about {log.format_seconds(per_round * left)} left"
            )
    return outcomes, rounds_run


def _run_benchmark(
    contender: Contender,
    staged: StagedBenchmark,
    settings: RunSettings,
    outcome: Outcome,
    env: dict[str, str],
) -> str:
    """Run one script on one interpreter, update ``outcome``; returns a short progress note."""
    outcome.result_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = pyperf_command(contender, staged, settings, outcome)
    status, output = run_logged(cmd, outcome.log_file, env, settings.timeout)
    label = contender.label
    if status == SKIPPED_EXIT_STATUS:
        first = next((line for line in output.splitlines() if line.strip()), "skipped")
        outcome.status, outcome.reason = "unavailable", first.strip()
        return f"{label} not available"
    if status != 0:
        outcome.status = "failed"
        outcome.reason = failure_reason(status, output, outcome.log_file)
        log.warn(f"{staged.name} failed on {label}: {outcome.reason}")
        return f"{label} FAILED"
    try:
        measurements = read_pyperf_file(outcome.result_file)
    except BuildError as exc:
        outcome.status, outcome.reason = "failed", str(exc)
        log.warn(f"{staged.name} failed on {label}: {outcome.reason}")
        return f"{label} FAILED"
    if outcome.status == "pending" and len(measurements) == 1:
        outcome.loops = measurements[0].loops
    outcome.status = "ok"
    return f"{label} {_short_result(measurements)}"
