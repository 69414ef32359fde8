"""Byte counts as people write and read them: ``40G`` in, ``1.3 GB`` out (powers of 1024)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from .errors import UsageError

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``40G``, ``500M``, ``1.5T``, ``0``: bytes (K, M, G, T are powers of 1024)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise UsageError(f"{text!r} is not a size; write it like 40G, 500M or 0")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.upper()])


def size_from_env(
    name: str, environ: Mapping[str, str] | None = None, hint: str = ""
) -> int | None:
    """The size in the environment variable ``name`` (None: unset or empty); a bad value is a
    UsageError that names the variable (and ``hint``, what else to know)."""
    text = (os.environ if environ is None else environ).get(name, "").strip()
    if not text:
        return None
    try:
        return parse_size(text)
    except UsageError as exc:
        raise UsageError(f"{name}: {exc}{hint}") from None


def format_size(size: int) -> str:
    """``1.3 GB``, ``250.0 MB``, ``12 B`` (powers of 1024, one decimal)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        # Rounded first: 1023.96 KB is "1.0 MB", not "1024.0 KB".
        if (value if unit == "B" else round(value, 1)) < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
