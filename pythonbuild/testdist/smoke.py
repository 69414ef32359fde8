"""Run the smoke script (``resources/testdist/smoke.py``) with a distribution's interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..errors import BuildError
from ..paths import RESOURCES
from .results import OUTCOMES, CaseResult

SMOKE_SCRIPT = RESOURCES / "testdist" / "smoke.py"
SMOKE_TIMEOUT = 1800  # the whole script; each check also has its own limit


def parse_smoke_results(text: str, suite: str, source: str) -> list[CaseResult]:
    """The script's ``--results`` JSON as cases of ``suite``."""
    try:
        checks = json.loads(text)["checks"]
        cases = [
            CaseResult(
                suite,
                c["name"],
                c["outcome"],
                float(c.get("seconds", 0)),
                c.get("message", ""),
                c.get("details", ""),
            )
            for c in checks
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise BuildError(
            f"{source}: the smoke results are not what smoke.py writes ({exc})"
        ) from None
    for case in cases:
        if case.outcome not in OUTCOMES:
            raise BuildError(f"{source}: unknown outcome {case.outcome!r} of {case.name}")
    return cases


def run_smoke_on_host(
    python: Path, metadata_file: Path, results: Path, log_file: Path
) -> list[CaseResult]:
    """Run every smoke check with ``python``; its progress goes to the console and ``log_file``."""
    cmd = [
        str(python),
        str(SMOKE_SCRIPT),
        "--python-json",
        str(metadata_file),
        "--results",
        str(results),
        "--exit-zero",
    ]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(results.parent)}
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w") as log:
        try:
            process = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd="/"
            )
        except OSError as exc:
            raise BuildError(f"cannot run {python}: {exc.strerror or exc}") from None
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write("  " + line)
            log.write(line)
        status = process.wait(timeout=SMOKE_TIMEOUT)
    if status != 0 or not results.exists():
        raise BuildError(
            f"the smoke script did not finish with {python} (exit status {status}); see {log_file}"
        )
    return parse_smoke_results(results.read_text(), "smoke", str(results))
