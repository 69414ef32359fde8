"""The validator's data (pythonbuild/resources/validate/*.yml), loaded once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import yaml

from ..paths import RESOURCES
from ..versions import version_matches

DATA_DIR = RESOURCES / "validate"


@cache
def _load(name: str) -> dict:
    return yaml.safe_load((DATA_DIR / name).read_text())


@cache
def bundled_symbol_patterns() -> dict[str, re.Pattern[str]]:
    """Library -> one regular expression matching the whole name of any of its symbols."""
    return {
        library: re.compile("|".join(f"(?:{p})" for p in patterns))
        for library, patterns in _load("bundled-symbols.yml").items()
    }


@cache
def elf_machines() -> dict[str, tuple[str, int]]:
    """CPU part of a GNU triple -> (e_machine, ELF class)."""
    return {cpu: (e["machine"], int(e["class"])) for cpu, e in _load("elf-machines.yml").items()}


def elf_kind(cpu: str) -> str:
    """What every ELF file for ``cpu`` is: machine, class and byte order (``ElfInfo.kind``)."""
    entry = _load("elf-machines.yml")[cpu]
    return f"{entry['machine']} ELF{entry['class']} {entry['byte_order']}-endian"


def elf_loader(cpu: str, libc: str) -> str | None:
    """The loader (PT_INTERP) executables for ``cpu`` and ``libc`` name (None: not known)."""
    return _load("elf-machines.yml").get(cpu, {}).get("loaders", {}).get(libc)


def stdlib_extension_modules(python: str) -> set[str]:
    """Every extension module CPython ``python`` (X.Y) builds on Linux with all libraries found."""
    data = _load("stdlib-extension-modules.yml")
    modules = set(data["modules"])
    modules |= {name for name, spec in data["python"].items() if version_matches(python, spec)}
    return modules


def hardening_exemptions(rule: str) -> dict[str, str]:
    """Extension module (or file role) -> why ``rule`` does not apply to it."""
    return dict(_load("hardening.yml")["exempt"].get(rule) or {})


def fortifiable_functions() -> frozenset[str]:
    """libc functions _FORTIFY_SOURCE replaces by checked variants when sizes are known."""
    return frozenset(_load("hardening.yml")["fortifiable"])


@dataclass(frozen=True)
class AllowedBuildPath:
    member_glob: str  # relative to python/install
    line: str
    why: str


def build_path_prefixes() -> list[str]:
    return list(_load("build-paths.yml")["prefixes"])


def allowed_build_paths() -> list[AllowedBuildPath]:
    return [
        AllowedBuildPath(entry["member"], entry["line"], entry["why"])
        for entry in _load("build-paths.yml").get("allowed", [])
    ]
