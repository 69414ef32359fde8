"""When two archives differ only in their inputs records: which fields, and were they expected.

A rebuild that replays a trained PGO profile, or ignores a dirty checkout, cannot make the same
record (the original says "trained" or "dirty"); everything else should still be identical.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .compare import Comparison
from .members import extract_members
from .record import INPUTS_MEMBER


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; list items are named by their name or role."""
    if isinstance(value, dict):
        items: list[tuple[str, object]] = [(f".{k}" if prefix else k, v) for k, v in value.items()]
    elif (
        isinstance(value, list)
        and value
        and all(isinstance(item, dict) and ("name" in item or "role" in item) for item in value)
    ):
        items = [(f"[{item.get('name', item.get('role'))}]", item) for item in value]
    else:
        return {prefix: value}
    flat: dict[str, object] = {}
    for key, item in items:
        flat.update(flatten(item, prefix + key))
    return flat


def field_differences(old: dict, new: dict) -> dict[str, tuple[object, object]]:
    a, b = flatten(old), flatten(new)
    keys = sorted(set(a) | set(b))
    return {key: (a.get(key), b.get(key)) for key in keys if a.get(key) != b.get(key)}


def only_inputs_differ(comparison: Comparison) -> bool:
    return (
        not comparison.added
        and not comparison.removed
        and [change.name for change in comparison.changed] == [INPUTS_MEMBER]
    )


def inputs_record_differences(comparison: Comparison) -> dict[str, tuple[object, object]]:
    """The differing fields of the two archives' records (both must have one)."""
    with tempfile.TemporaryDirectory(prefix="reproduce-inputs-") as tmp:
        records = []
        for archive, side in ((comparison.a.path, "a"), (comparison.b.path, "b")):
            found = extract_members(archive, {INPUTS_MEMBER}, Path(tmp) / side)
            records.append(json.loads(found[INPUTS_MEMBER].read_bytes()))
    return field_differences(*records)


def expected_verdict(comparison: Comparison, expected: set[str]) -> list[str]:
    """Lines saying whether an inputs-only difference is the one the rebuild had to make.

    Empty when more than the inputs record differs (the member report says it all then).
    """
    if not only_inputs_differ(comparison):
        return []
    differences = inputs_record_differences(comparison)
    lines = [f"  {key}: {json.dumps(a)} -> {json.dumps(b)}" for key, (a, b) in differences.items()]
    unexpected = sorted(set(differences) - expected)
    if unexpected:
        return [f"only {INPUTS_MEMBER} differs, in fields a faithful rebuild keeps:", *lines]
    return [
        f"every member but {INPUTS_MEMBER} is identical, and it differs only where this rebuild "
        "had to differ (see the notes above):",
        *lines,
    ]
