"""Open an archive for validation, run every rule, report."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..distribution import elf
from ..distribution.archive import extract_archive, read_leading_member
from ..distribution.metadata import FORMAT_VERSION, SCHEMA_PATH
from ..errors import BuildError
from ..paths import RESOURCES, UNIX_DIR
from ..reproduce import record
from ..targets import Target, load_targets
from . import rules_document, rules_elf, rules_files, rules_inputs
from .data import DATA_DIR
from .findings import TOP, Distribution, Finding

DOCUMENT_MEMBER = f"{TOP}/PYTHON.json"


def _peek(archive: Path) -> tuple[str, bytes | None]:
    """The first member's name and, when it is PYTHON.json (as it must be), its bytes: bad
    documents are refused before the whole archive is unpacked."""
    first, document = read_leading_member(archive, DOCUMENT_MEMBER)
    if first is None:
        raise BuildError(f"{archive}: the archive has no members")
    return first, document


def _parse_document(archive: Path, data: bytes) -> dict:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BuildError(f"{archive}: {DOCUMENT_MEMBER} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BuildError(f"{archive}: {DOCUMENT_MEMBER} is not a JSON object")
    if doc.get("version") != FORMAT_VERSION:
        raise BuildError(
            f"{archive}: unknown PYTHON.json format version {doc.get('version')!r}; "
            f"this validator reads version {FORMAT_VERSION}"
        )
    return doc


def _load_document(archive: Path, root: Path) -> dict:
    path = root / "PYTHON.json"
    if not path.is_file():
        hint = (
            " (install_only archives carry none; validate the -full.tar.zst)"
            if "install_only" in archive.name
            else ""
        )
        raise BuildError(f"{archive}: no {DOCUMENT_MEMBER}{hint}")
    return _parse_document(archive, path.read_bytes())


def _target_of(archive: Path, doc: dict, expected_target: str | None) -> Target:
    triple = doc.get("target_triple")
    targets = load_targets()
    if expected_target and triple != expected_target:
        raise BuildError(f"{archive}: built for {triple!r}, expected {expected_target}")
    if triple not in targets:
        raise BuildError(
            f"{archive}: unknown target {triple!r} in PYTHON.json; known: "
            f"{', '.join(sorted(targets))}"
        )
    return targets[triple]


def open_distribution_tree(
    archive: Path, workdir: Path, expected_target: str | None
) -> Distribution:
    """Extract ``archive`` below ``workdir`` and read what the rules need; bad input raises a
    BuildError with one line."""
    first, early_document = _peek(archive)
    if early_document is not None:
        _target_of(archive, _parse_document(archive, early_document), expected_target)
    extract_archive(archive, workdir / "extracted")
    root = workdir / "extracted" / TOP
    if not root.is_dir():
        raise BuildError(f"{archive}: no {TOP}/ directory; not a distribution archive")
    doc = _load_document(archive, root)
    return Distribution(archive, root, doc, _target_of(archive, doc, expected_target), first)


def validate_tree(dist: Distribution) -> list[Finding]:
    infos, findings = rules_elf.scan(dist)
    findings += rules_document.check(dist)
    findings += rules_elf.check(dist, infos)
    findings += rules_files.check(dist)
    findings += rules_inputs.check(dist)
    return sorted(set(findings))


def validate_archive(archive: Path, expected_target: str | None = None) -> list[Finding]:
    """Every finding for ``archive`` (empty: it passes). Raises BuildError for bad input."""
    with tempfile.TemporaryDirectory(prefix="validate-") as workdir:
        dist = open_distribution_tree(archive, Path(workdir), expected_target)
        return validate_tree(dist)


def _validation_inputs(archive: Path) -> str:
    """Hash of the archive and of everything the verdict depends on: the rules and their data."""
    digest = hashlib.sha256()
    inputs = [
        *sorted(Path(__file__).parent.glob("*.py")),
        *sorted(DATA_DIR.glob("*.yml")),
        SCHEMA_PATH,
        record.SCHEMA_PATH,  # inputs.json's schema, and the code that reads it
        Path(record.__file__),
        UNIX_DIR / "targets.yml",
        UNIX_DIR / "extension-modules.yml",
        RESOURCES / "downloads.yml",
        Path(elf.__file__),
        archive,
    ]
    for path in inputs:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def validate_or_fail(
    archive: Path,
    expected_target: str | None = None,
    report: Callable[[str], None] = print,
    stamp: Path | None = None,
) -> None:
    """Validate ``archive``; report each finding, then raise BuildError if there were any.

    With ``stamp``, a pass is recorded there and an unchanged archive, checked by unchanged
    rules, is not validated again (a rebuild that changes nothing stays fast).
    """
    inputs = _validation_inputs(archive) if stamp else None
    if stamp and inputs and stamp.is_file() and stamp.read_text().strip() == inputs:
        report(f"{archive.name} passed validation before and is unchanged")
        return
    findings = validate_archive(archive, expected_target)
    for finding in findings:
        report(finding.line())
    if findings:
        raise BuildError(
            f"{archive.name} failed validation with {len(findings)} finding(s) (listed above; "
            "docs/validation.md explains each rule)"
        )
    if stamp and inputs:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(inputs + "\n")
