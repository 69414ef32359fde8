"""The build inputs record (``python/build/inputs.json``, docs/reproducibility.md): present,
JSON, valid against its schema, and about the build PYTHON.json describes."""

from __future__ import annotations

from ..reproduce.record import INPUTS_MEMBER, InputsError, parse_inputs
from .findings import TOP, Distribution, Finding

RULE = "inputs-record"
ALLOWED = "a format 1 record valid against pythonbuild/reproduce/inputs.schema.json"
_MAX_MESSAGE = 160


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


def check(dist: Distribution) -> list[Finding]:
    path = dist.root / INPUTS_MEMBER.removeprefix(f"{TOP}/")
    if path.is_symlink() or not path.is_file():
        return [Finding(INPUTS_MEMBER, RULE, "no such file", ALLOWED)]
    try:
        inputs = parse_inputs(path.read_bytes(), INPUTS_MEMBER)
    except InputsError as exc:
        message = str(exc).removeprefix(f"{INPUTS_MEMBER}: ")
        return [Finding(INPUTS_MEMBER, RULE, _one_line(message), ALLOWED)]
    # The same build as the document's: a record copied from another archive is no record. A
    # field missing from the document is the schema rule's finding, not this one's.
    pairs = (
        ("target", inputs.target, "target_triple"),
        ("python", inputs.python, "python_major_minor_version"),
        ("python_version", inputs.data["python_version"], "python_version"),
        ("options", inputs.options, "build_options"),
    )
    differ = [
        f"{field} {ours!r} (PYTHON.json {key}: {dist.doc[key]!r})"
        for field, ours, key in pairs
        if key in dist.doc and ours != dist.doc[key]
    ]
    if differ:
        return [
            Finding(
                INPUTS_MEMBER,
                RULE,
                _one_line(", ".join(differ)),
                "the target, Python version and options PYTHON.json names",
            )
        ]
    return []
