"""What the end-to-end tests of one more target share: run a command with its output shown, and
build that target's noopt archive here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pythonbuild.distribution.archive import extract_archive
from pythonbuild.testdist.results import PASSED, SKIPPED
from pythonbuild.testdist.smoke import run_smoke_on_host

ROOT = Path(__file__).resolve().parent.parent


def run_shown(*args: str | Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run a command, echo its output into the test's, and time it."""
    started = time.monotonic()
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result, time.monotonic() - started


def build_noopt_full(target: str, dist: Path, options: str = "noopt") -> Path:
    """``build-linux.py`` for ``target`` (3.13 ``options``, noopt by default) into ``dist``;
    the full archive."""
    result, elapsed = run_shown(
        ROOT / "build-linux.py", "--target", target, "--python", "3.13", "--options", options,
        "--dist", dist,
    )  # fmt: skip
    assert result.returncode == 0, f"{target} build failed:\n{result.stderr[-4000:]}"
    print(f"{target} {options} build: {elapsed:.0f}s")
    return next(dist.glob(f"cpython-3.13.*-{target}-{options}-full.tar.zst"))


def passing_test_dist(archive: Path, output: Path, *args: str, what: str = "test-dist") -> str:
    """``test-dist ARCHIVE ARGS``: it must exit 0 and pass at least one test with none failed;
    returns its output."""
    result, elapsed = run_shown(
        sys.executable, "-m", "pythonbuild", "test-dist", archive, *args, "--output", output
    )
    print(f"{what}: {elapsed:.0f}s")
    assert result.returncode == 0, result.stdout[-4000:]
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.search(r": (\d+) passed, 0 failed", summary)
    assert passed and int(passed.group(1)) > 0, summary
    return result.stdout


def unpack_full(archive: Path, dest: Path) -> tuple[dict, Path]:
    """Extract a full archive into ``dest``: its PYTHON.json and its install/ directory."""
    extract_archive(archive, dest)
    return json.loads((dest / "python" / "PYTHON.json").read_text()), dest / "python" / "install"


def smoke_failures(
    python: Path, metadata: Path, tmp_path: Path, launcher: Sequence[str] = ()
) -> list[str]:
    """Run test-dist's smoke checks with ``python`` (under ``launcher``, e.g. an emulation's);
    the names of those that neither passed nor were skipped. Its log is tmp_path/smoke.log."""
    results = run_smoke_on_host(
        python, metadata, tmp_path / "results", tmp_path / "smoke.log", launcher
    )
    assert results, (tmp_path / "smoke.log").read_text()[-4000:]
    return [r.name for r in results if r.outcome not in (PASSED, SKIPPED)]
