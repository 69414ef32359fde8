"""Compare two archive files and print the verdict: identical, or which members differ and how."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .compare import Comparison, compare_indexes
from .details import DetailOptions, describe_content
from .members import check_readable, file_sha256, index_archive

EXIT_IDENTICAL = 0
EXIT_DIFFERENT = 1


def compare_archives(a: Path, b: Path, options: DetailOptions) -> Comparison | str:
    """The sha256 both files share, or their comparison (with content diffs filled in)."""
    check_readable(a)
    check_readable(b)
    digest_a, digest_b = file_sha256(a), file_sha256(b)
    if digest_a == digest_b:
        return digest_a
    comparison = compare_indexes(index_archive(a), index_archive(b))
    describe_content(comparison, options)
    return comparison


def _added_line(sign: str, member) -> str:
    what = f"{member.kind}, {member.size} bytes" if member.kind == "file" else member.kind
    if member.link:
        what += f" -> {member.link}"
    return f"{sign} {member.name} ({what})"


def report_lines(comparison: Comparison) -> list[str]:
    lines = [
        f"a: {comparison.a.path}  sha256 {comparison.a.sha256}",
        f"b: {comparison.b.path}  sha256 {comparison.b.sha256}",
    ]
    total = len(set(comparison.a.members) | set(comparison.b.members))
    count = comparison.differing_members
    if count:
        lines.append(f"{count} of {total} members differ:")
    elif comparison.order_note:
        lines.append(f"the same {total} members, but {comparison.order_note}")
    else:
        lines.append(
            f"the same {total} members with the same headers and content; only the compressed "
            "bytes differ (compressor, its version or settings, or tar padding)"
        )
    for member in comparison.removed:
        lines.append("  " + _added_line("removed", member) + " only in a")
    for member in comparison.added:
        lines.append("  " + _added_line("added  ", member) + " only in b")
    for change in comparison.changed:
        lines.append(f"  changed {change.name}")
        lines += [f"      {fact}" for fact in change.facts]
        lines += [f"      | {line}" for line in change.detail]
    content_changes = sum(1 for change in comparison.changed if change.content_changed)
    described = sum(1 for change in comparison.changed if change.detail)
    if content_changes > described:
        lines.append(
            f"  (content diffs of the first {described} of {content_changes} changed files; "
            "--details N shows more)"
        )
    if count and comparison.order_note:
        lines.append(f"  also: {comparison.order_note}")
    return lines


def print_verdict(result: Comparison | str, out: Callable[[str], None] = print) -> int:
    """Print the outcome; returns the exit code (0 identical, 1 different)."""
    if isinstance(result, str):
        out(f"identical: sha256 {result}")
        return EXIT_IDENTICAL
    for line in report_lines(result):
        out(line)
    count = result.differing_members
    out(f"different: {count} member(s) differ" if count else "different: the archive bytes differ")
    return EXIT_DIFFERENT
