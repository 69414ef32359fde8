"""Where things are: the project tree and the per-user cache."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "pythonbuild" / "resources"
UNIX_DIR = ROOT / "cpython-unix"
PATCHES_DIR = ROOT / "patches"
DEFAULT_DIST = ROOT / "dist"


def default_cache_dir() -> Path:
    """Downloads and build artifacts: shared across checkouts, keyed by content hashes."""
    if env := os.environ.get("STANDALONE_PYTHON_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "standalone-python"
