"""`cache prune` against the real engine and beside a real build (slow: needs the e2e build)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import COMMAND, EXISTING_DIST, TARGET, linked_copy

from pythonbuild.cache import leases
from pythonbuild.linux import engine
from pythonbuild.linux.images.build import image_exists, planned_build_image
from pythonbuild.paths import default_cache_dir
from pythonbuild.targets import get_target

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(EXISTING_DIST),
        reason="checking existing archives (STANDALONE_PYTHON_E2E_DIST): needs the build's cache "
        "and images",
    ),
]


def _cache_command(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "pythonbuild", "cache", *args],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result


def test_prune_removes_a_stale_image_tag_from_the_engine(build):
    current = planned_build_image(get_target(TARGET)).tag
    stale = current.rpartition(":")[0] + ":0000000000000000"
    eng = engine.connect()
    try:
        eng.client.images.get(current).tag(stale)  # shares every layer: costs no space
    finally:
        eng.close()
    result = _cache_command("prune", "--kind", "image")
    assert result.returncode == 0, result.stderr
    assert f"removed image {stale} " in result.stdout
    eng = engine.connect()
    try:
        assert not image_exists(eng, stale)
        assert image_exists(eng, current)  # current: what today's checkout builds with
    finally:
        eng.close()


def test_a_prune_beside_a_running_build_leaves_what_the_build_uses(build, tmp_path):
    """`cache prune --all` while a build of the same target runs on a copy of its cache:
    the build finishes, every entry it leased is still there, everything else is gone."""
    cache = tmp_path / "cache"
    for kind in ("sources", "artifacts", "images"):
        linked_copy(default_cache_dir() / kind, cache / kind)  # (leases are per cache: not copied)
    planted = cache / "artifacts" / "zlib-0.0-00000000deadbeef.tar"
    planted.write_bytes(b"an artifact no checkout plans")
    before = set(os.listdir(cache / "artifacts"))
    build_run = subprocess.Popen(
        [*COMMAND, "--dist", str(tmp_path / "dist"), "--cache-dir", str(cache), "--no-validate"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not leases.any_held(cache):
            assert build_run.poll() is None, "the build ended before it took its leases"
            assert time.monotonic() < deadline, "the build took no lease within 120 s"
            time.sleep(0.2)
        prune = _cache_command("prune", "--all", "--no-engine", "--cache-dir", str(cache))
        output, _ = build_run.communicate(timeout=1200)
    finally:
        if build_run.poll() is None:
            build_run.kill()
            build_run.wait()
    print(output)
    assert prune.returncode == 0, prune.stderr
    assert build_run.returncode == 0, output[-3000:]
    assert "all " in output and "build steps are cached; nothing to build" in output
    kept = {
        line.split()[2].rstrip(":")
        for line in prune.stdout.splitlines()
        if line.startswith("kept ")
    }
    left = {name for name in os.listdir(cache / "artifacts") if not name.startswith(".")}
    assert not planted.exists() and "zlib-0.0-00000000deadbeef.tar" not in kept
    assert left and left <= before and left == kept & before
    assert all(
        line.endswith("in use by a running build")
        for line in prune.stdout.splitlines()
        if line.startswith("kept ")
    )
    assert any(p.name.startswith("cpython-") for p in (cache / "artifacts").iterdir())
    assert list((tmp_path / "dist").glob("*-full.tar.zst"))
