"""Compare two archives member by member: which members were added, removed or changed, and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .members import ArchiveIndex, Member


@dataclass
class MemberChange:
    """A member present in both archives whose header or content differs."""

    name: str
    facts: list[str]  # one "what: a -> b" line per differing fact
    old: Member
    new: Member
    detail: list[str] = field(default_factory=list)  # a diff of the content, filled in later

    @property
    def content_changed(self) -> bool:
        return self.old.kind == self.new.kind == "file" and self.old.sha256 != self.new.sha256


@dataclass
class Comparison:
    a: ArchiveIndex
    b: ArchiveIndex
    added: list[Member]  # in b only
    removed: list[Member]  # in a only
    changed: list[MemberChange]
    order_note: str = ""  # the members are the same but come in another order

    @property
    def identical(self) -> bool:
        return self.a.sha256 == self.b.sha256

    @property
    def differing_members(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)


def _time(value: int) -> str:
    return f"{value} ({datetime.fromtimestamp(value, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')})"


def member_facts(old: Member, new: Member) -> list[str]:
    """What differs between two versions of one member, one line each, most telling first."""
    facts: list[str] = []
    if old.kind != new.kind:
        facts.append(f"kind {old.kind} -> {new.kind}")
    if old.size != new.size:
        facts.append(f"size {old.size} -> {new.size} bytes")
    if old.sha256 != new.sha256 and old.sha256 and new.sha256:
        facts.append(f"sha256 {old.sha256} -> {new.sha256}")
    if old.link != new.link:
        facts.append(f"link target {old.link or '(none)'!r} -> {new.link or '(none)'!r}")
    if old.mode != new.mode:
        facts.append(f"mode {old.mode:04o} -> {new.mode:04o}")
    if old.mtime != new.mtime:
        facts.append(f"mtime {_time(old.mtime)} -> {_time(new.mtime)}")
    if old.owner != new.owner:
        facts.append(f"owner {old.owner} -> {new.owner}")
    if old.pax != new.pax:
        facts.append(f"extended headers {dict(old.pax)} -> {dict(new.pax)}")
    return facts


def _order_note(a: ArchiveIndex, b: ArchiveIndex) -> str:
    common = set(a.members) & set(b.members)
    order_a = [name for name in a.members if name in common]
    order_b = [name for name in b.members if name in common]
    for first, second in zip(order_a, order_b, strict=True):
        if first != second:
            return f"members come in another order from {first!r} (b has {second!r} there)"
    return ""


def compare_indexes(a: ArchiveIndex, b: ArchiveIndex) -> Comparison:
    removed = [m for name, m in a.members.items() if name not in b.members]
    added = [m for name, m in b.members.items() if name not in a.members]
    changed = []
    for name, old in a.members.items():
        new = b.members.get(name)
        if new is not None and (facts := member_facts(old, new)):
            changed.append(MemberChange(name, facts, old, new))
    return Comparison(a, b, added, removed, changed, _order_note(a, b))
