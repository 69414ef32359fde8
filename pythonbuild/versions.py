"""Small version helpers: ``3.13`` style minor versions and ``>=3.14`` style specs."""

from __future__ import annotations

import operator
import re

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def version_matches(version: str, spec: str) -> bool:
    """True when ``version`` satisfies every comma-separated clause of ``spec``."""
    for clause in spec.split(","):
        match = re.fullmatch(r"\s*(>=|<=|==|>|<)\s*([\d.]+)\s*", clause)
        if not match:
            raise ValueError(f"bad version spec {spec!r}")
        op, bound = match.groups()
        if not _OPS[op](version_tuple(version), version_tuple(bound)):
            return False
    return True
