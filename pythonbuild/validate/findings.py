"""What a rule reports, and the distribution the rules look at."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..options import BuildOptions, parse_options
from ..targets import Target

TOP = "python"  # every member of a full archive is below python/


@dataclass(frozen=True, order=True)
class Finding:
    member: str  # archive path, e.g. python/install/bin/python3.13
    rule: str
    found: str
    allowed: str

    def line(self) -> str:
        return f"{self.member}: {self.rule}: found {self.found}; allowed: {self.allowed}"


@dataclass(frozen=True)
class Distribution:
    """An extracted full archive: ``root`` is its python/ directory."""

    archive: Path
    root: Path
    doc: dict  # PYTHON.json
    target: Target
    first_member: str

    @property
    def install(self) -> Path:
        return self.root / "install"

    @property
    def options(self) -> BuildOptions:
        """PYTHON.json's ``build_options`` (plain noopt when it names none we know: the
        document rules report that)."""
        try:
            return parse_options(str(self.doc.get("build_options", "")), implemented_only=False)
        except UsageError:
            return BuildOptions()

    def member(self, path: Path | str) -> str:
        """The archive path of a file of the extracted tree (or of a PYTHON.json path)."""
        relative = path.relative_to(self.root) if isinstance(path, Path) else path
        return f"{TOP}/{relative}"

    def doc_path(self, key_path: str) -> Path:
        """A PYTHON.json path (relative to python/) in the extracted tree."""
        return self.root / key_path


def examples(names: set[str] | list[str], limit: int = 5) -> str:
    """A short, stable sample of names for a one-line finding."""
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    return shown + (f", ... ({len(ordered)} in all)" if len(ordered) > limit else "")
