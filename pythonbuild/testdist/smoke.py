"""Run the smoke script (``resources/testdist/smoke.py``) with a distribution's interpreter."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import BuildError
from ..paths import RESOURCES
from .process import stream_process
from .results import OUTCOMES, CaseResult

SMOKE_SCRIPT = RESOURCES / "testdist" / "smoke.py"


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
    python: Path,
    metadata_file: Path,
    results: Path,
    log_file: Path,
    launcher: Sequence[str] = (),
) -> list[CaseResult]:
    """Run every smoke check with ``python``; its progress goes to the console and ``log_file``.

    ``launcher`` is a command prefix it runs under (``Emulation.launcher``).
    """
    cmd = [
        *launcher,
        str(python),
        str(SMOKE_SCRIPT),
        "--python-json",
        str(metadata_file),
        "--results",
        str(results),
        "--exit-zero",
        # Scratch (venvs) beside the results, so it goes away with the caller's directory.
        "--work",
        str(results.parent),
    ]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(results.parent)}
    status, _ = stream_process(cmd, env, "/", log_file, echo_prefix="  ")
    if status != 0 or not results.exists():
        raise BuildError(
            f"the smoke script did not finish with {python} (exit status {status}); see {log_file}"
        )
    return parse_smoke_results(results.read_text(), "smoke", str(results))
