"""Compare two archive files and print the verdict: identical, or which members differ and how."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .compare import Comparison, compare_indexes
from .details import DetailOptions, describe_content
from .members import check_readable, file_sha256, index_archive

EXIT_IDENTICAL = 0
EXIT_DIFFERENT = 1
SHARED_FACT_MIN = 10  # a header difference of this many members is stated once


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


def shared_facts(comparison: Comparison) -> list[tuple[str, int]]:
    """Header differences (such as one mtime for another) common to many changed members.

    Two builds of different commits differ in every member's time; saying so once keeps the
    differences that are particular to a member visible. Content facts are never shared.
    """
    counts = Counter(
        fact
        for change in comparison.changed
        for fact in change.facts
        if not fact.startswith(("size ", "sha256 "))
    )
    return [(fact, n) for fact, n in counts.most_common() if n >= SHARED_FACT_MIN]


def _member_lines(comparison: Comparison, shared: set[str]) -> list[str]:
    # Changed members first: a rebuild that goes wrong mostly changes members, not the set.
    lines = []
    for change in comparison.changed:
        own = [fact for fact in change.facts if fact not in shared]
        lines.append(f"  changed {change.name}" + ("" if own else " (shared differences only)"))
        lines += [f"      {fact}" for fact in own]
        lines += [f"      | {line}" for line in change.detail]
    lines += ["  " + _added_line("removed", m) + " only in a" for m in comparison.removed]
    lines += ["  " + _added_line("added  ", m) + " only in b" for m in comparison.added]
    return lines


def report_lines(comparison: Comparison, max_listed: int = 0) -> list[str]:
    """The report; ``max_listed`` bounds the members listed (0: all of them)."""
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
    shared = shared_facts(comparison)
    lines += [f"  {n} changed members share: {fact}" for fact, n in shared]
    members = _member_lines(comparison, {fact for fact, _ in shared})
    listed = sum(1 for line in members if not line.startswith("      "))
    if max_listed and listed > max_listed:
        cut = [i for i, line in enumerate(members) if not line.startswith("      ")][max_listed]
        members = [
            *members[:cut],
            f"  ... {listed - max_listed} more members differ (--max-listed 0 lists all)",
        ]
    lines += members
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


def print_verdict(
    result: Comparison | str, max_listed: int = 0, out: Callable[[str], None] = print
) -> int:
    """Print the outcome; returns the exit code (0 identical, 1 different)."""
    if isinstance(result, str):
        out(f"identical: sha256 {result}")
        return EXIT_IDENTICAL
    for line in report_lines(result, max_listed):
        out(line)
    count = result.differing_members
    out(f"different: {count} member(s) differ" if count else "different: the archive bytes differ")
    return EXIT_DIFFERENT
