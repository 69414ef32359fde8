"""Shared fixtures of the slow tests: the end-to-end build (once per session) and its archives.

The build is x86_64-unknown-linux-gnu 3.13 noopt unless the environment names another
(``STANDALONE_PYTHON_E2E_TARGET``, ``_PYTHON``, ``_OPTIONS``); ``STANDALONE_PYTHON_E2E_DIST=dist``
checks archives built earlier instead of building.

Under ``CI=true`` a skip whose reason allowed-skips.yml does not list fails the run
(skip_policy.py).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pythonbuild.distribution.archive import archive_name
from pythonbuild.options import parse_options

pytest_plugins = ["skip_policy"]

ROOT = Path(__file__).resolve().parent.parent
TARGET = os.environ.get("STANDALONE_PYTHON_E2E_TARGET", "x86_64-unknown-linux-gnu")
PYTHON = os.environ.get("STANDALONE_PYTHON_E2E_PYTHON", "3.13")
OPTIONS = parse_options(os.environ.get("STANDALONE_PYTHON_E2E_OPTIONS", "noopt"))
COMMAND = [
    str(ROOT / "build-linux.py"),
    "--target",
    TARGET,
    "--python",
    PYTHON,
    "--options",
    OPTIONS.name,
]
# Check archives that are already built (e.g. dist/) instead of building: the build-behaviour
# tests are skipped then.
EXISTING_DIST = os.environ.get("STANDALONE_PYTHON_E2E_DIST")


def run_build(dist: Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        [*COMMAND, "--dist", str(dist)], capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - started
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result, elapsed


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> dict:
    if EXISTING_DIST:
        dist, elapsed = Path(EXISTING_DIST).resolve(), None
    else:
        dist = tmp_path_factory.mktemp("dist")
        result, elapsed = run_build(dist)
        assert result.returncode == 0, f"build failed:\n{result.stderr[-4000:]}"
        print(f"first build: {elapsed:.0f}s")
    full = next(dist.glob(f"cpython-{PYTHON}.*-{TARGET}-{OPTIONS.name}-full.tar.zst"))
    version, tag = full.name.removeprefix("cpython-").split("-", 1)[0].split("+")
    found = {"dist": dist, "full": full, "first_time": elapsed}
    for flavor in ("install_only", "install_only_stripped"):
        found[flavor] = dist / archive_name(
            python_version=version, release_tag=tag, triple=TARGET, options=OPTIONS.name,
            flavor=flavor,
        )  # fmt: skip
    return found


def linked_copy(source: Path, dest: Path) -> None:
    """A copy of ``source`` made of hard links where the file system allows (no extra space)."""
    for path in sorted(source.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(source).parts):
            continue  # another build's lock files
        target = dest / path.relative_to(source)
        if path.is_dir() and not path.is_symlink():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.copy2(path, target)
