"""How the content of a changed member differs: diffoscope when installed, else a plain diff.

diffoscope (Debian package ``diffoscope``) understands ELF files, static libraries, .pyc files
and much more, so it explains binary differences; without it, text members get a unified diff
and binary members the offset of their first differing byte. Either way the output per member
is bounded, and only the first few changed members are examined.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .compare import Comparison, MemberChange
from .members import extract_members

TEXT_LIMIT = 1 << 20  # larger members are not diffed line by line
DIFFOSCOPE_TIMEOUT = 300  # seconds per member: a large static library can take minutes


@dataclass(frozen=True)
class DetailOptions:
    max_members: int = 10  # changed members whose content is examined
    max_lines: int = 40  # lines of diff shown per member
    diffoscope: str | None = None  # path of diffoscope, or None for the plain diff


def find_diffoscope() -> str | None:
    return shutil.which("diffoscope")


def _bounded(lines: list[str], limit: int, more_hint: str) -> list[str]:
    if len(lines) <= limit:
        return lines
    more = len(lines) - limit
    return [*lines[:limit], f"... {more} more line{'s' if more > 1 else ''}{more_hint}"]


def _as_text(data: bytes) -> str | None:
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _first_difference(old: Path, new: Path) -> int:
    with old.open("rb") as a, new.open("rb") as b:
        offset = 0
        while True:
            block_a, block_b = a.read(1 << 16), b.read(1 << 16)
            if block_a != block_b:
                for index, (x, y) in enumerate(zip(block_a, block_b, strict=False)):
                    if x != y:
                        return offset + index
                return offset + min(len(block_a), len(block_b))
            if not block_a:
                return -1
            offset += len(block_a)


def plain_diff(name: str, old: Path, new: Path, max_lines: int) -> list[str]:
    """A unified diff for text, else where the bytes start to differ."""
    if old.stat().st_size <= TEXT_LIMIT and new.stat().st_size <= TEXT_LIMIT:
        old_text, new_text = _as_text(old.read_bytes()), _as_text(new.read_bytes())
        if old_text is not None and new_text is not None:
            lines = list(
                difflib.unified_diff(
                    old_text.splitlines(),
                    new_text.splitlines(),
                    f"a/{name}",
                    f"b/{name}",
                    lineterm="",
                )
            )
            if not lines:  # only line endings differ
                return ["text: the lines are equal; line endings or a final newline differ"]
            return _bounded(lines, max_lines, "")
    offset = _first_difference(old, new)
    return [f"binary: first difference at byte offset {offset}"]


def diffoscope_diff(diffoscope: str, old: Path, new: Path, max_lines: int) -> list[str]:
    try:
        result = subprocess.run(
            [diffoscope, "--text", "-", "--no-progress", str(old), str(new)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=DIFFOSCOPE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [f"diffoscope: no answer within {DIFFOSCOPE_TIMEOUT}s; compare this member by hand"]
    except OSError as exc:
        return [f"diffoscope: could not run ({exc.strerror or exc})"]
    if result.returncode not in (0, 1):
        error = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return [f"diffoscope failed (exit {result.returncode}): {error}"]
    hint = " (run diffoscope on the two archives for all of it)"
    return _bounded(result.stdout.splitlines(), max_lines, hint)


def describe_content(comparison: Comparison, options: DetailOptions) -> int:
    """Fill ``detail`` of the first changed members whose content differs; returns how many."""
    chosen: list[MemberChange] = [c for c in comparison.changed if c.content_changed]
    chosen = chosen[: options.max_members]
    if not chosen:
        return 0
    names = {change.name for change in chosen}
    with tempfile.TemporaryDirectory(prefix="reproduce-members-") as tmp:
        old_files = extract_members(comparison.a.path, names, Path(tmp) / "a")
        new_files = extract_members(comparison.b.path, names, Path(tmp) / "b")
        for change in chosen:
            old, new = old_files[change.name], new_files[change.name]
            if options.diffoscope:
                change.detail = diffoscope_diff(options.diffoscope, old, new, options.max_lines)
            else:
                change.detail = plain_diff(change.name, old, new, options.max_lines)
    return len(chosen)
