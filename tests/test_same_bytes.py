"""The README's promise: a rebuild of the same checkout gives the same bytes (slow).

Not the no-op rerun (which only finds its cache): some steps are really built again, from a
cache that lacks their artifacts, and the archive is compared byte for byte with
`reproduce --compare`. The steps are cheap libraries (seconds each) whose objects and static
libraries end up in the full archive's python/build, so a byte that changes shows there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import COMMAND, EXISTING_DIST, PYTHON, TARGET, linked_copy

from pythonbuild.paths import default_cache_dir

ROOT = Path(__file__).resolve().parent.parent
REBUILT = ("bzip2", "mpdecimal", "xz", "zlib")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(EXISTING_DIST),
        reason="checking existing archives (STANDALONE_PYTHON_E2E_DIST): nothing was built",
    ),
]


def test_rebuilt_steps_give_an_identical_full_archive(build, tmp_path):
    cache = tmp_path / "cache"
    for kind in ("sources", "artifacts", "images"):
        linked_copy(default_cache_dir() / kind, cache / kind)
    for name in REBUILT:
        stale = list((cache / "artifacts").glob(f"{name}-*.tar"))
        assert stale, f"the e2e build left no {name} artifact to rebuild"
        for path in stale:
            path.unlink()
    dist = tmp_path / "dist"
    result = subprocess.run(
        [*COMMAND, "--dist", str(dist), "--cache-dir", str(cache), "--no-validate"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # The progress lines of steps that ran: "build <package> <version> (log: ...): done in".
    built = re.findall(r"\] build (\S+) \S+ \(log: [^)]*\): done in ", result.stdout)
    assert sorted(built) == sorted(REBUILT)
    rebuilt = next(dist.glob(f"cpython-{PYTHON}.*-{TARGET}-*-full.tar.zst"))
    compare = subprocess.run(
        [sys.executable, "-m", "pythonbuild", "reproduce", "--compare", str(build["full"]), str(rebuilt)],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "STANDALONE_PYTHON_BOOTSTRAPPED": str(ROOT / "build" / "venv-build")},
    )  # fmt: skip
    assert compare.returncode == 0, compare.stdout[-3000:]
    assert compare.stdout.startswith("identical: sha256 ")
