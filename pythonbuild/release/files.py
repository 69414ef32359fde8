"""What ``python -m pythonbuild release`` writes besides the archives: which archive uv installs
for each (version, target, variant), and the text of the files that describe the release.

The formats are other projects' (docs/release.md):

* ``download-metadata.json`` is uv's downloads list (``UV_PYTHON_DOWNLOADS_JSON_URL``): one
  object keyed ``cpython-<version>[+<variant>]-<os>-<arch>-<libc>`` whose entries have
  ``name``, ``arch`` {``family``, ``variant``}, ``os``, ``libc``, ``major``, ``minor``, ``patch``,
  ``prerelease``, ``url``, ``sha256``, ``variant`` and ``build``, as uv's own
  crates/uv-python/download-metadata.json spells them.
* ``latest-release.json`` is what PBS publishes on its ``latest-release`` branch: ``version``
  (of that file's format, 1), ``tag``, ``release_url`` and ``asset_url_prefix``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError

SBOM_SUFFIXES = (".spdx.json", ".cdx.json")
# How well a build is optimized; the best one of a slot is the one uv gets. debug builds have
# slots of their own (uv's debug variants), so they never compete with these.
RANKS = {"pgo+lto": 3, "pgo": 2, "lto": 1, "noopt": 0}
# uv's own list prefers stripped install_only archives, then install_only; full archives are
# never listed (uv could unpack them, but they are several times larger).
FLAVOR_PREFERENCE = {"install_only_stripped": 1, "install_only": 0}
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)((?:a|b|rc)\d+)?")


@dataclass(frozen=True)
class Asset:
    """One published file. ``fields`` are archive_name's arguments (an SBOM's: its archive's)."""

    name: str
    source: Path
    sha256: str
    size: int
    fields: dict[str, str]

    @property
    def kind(self) -> str:
        if self.name.endswith(".spdx.json"):
            return "SBOM (SPDX)"
        if self.name.endswith(".cdx.json"):
            return "SBOM (CycloneDX)"
        return self.fields["flavor"]


@dataclass(frozen=True)
class Slot:
    """One uv download: a (version, target, uv variant) and the archive chosen for it."""

    key: str
    asset: Asset
    variant: str | None  # uv's: None, freethreaded, debug, freethreaded+debug
    passed_over: tuple[str, ...]  # names of less preferred archives of the same slot


def uv_variant(options: str) -> tuple[str | None, int]:
    """uv's variant of a build's options, and the build's rank within that variant."""
    freethreaded = options.startswith("freethreaded+")
    optimization = options.removeprefix("freethreaded+")
    if optimization == "debug":
        return ("freethreaded+debug" if freethreaded else "debug"), 0
    return ("freethreaded" if freethreaded else None), RANKS[optimization]


def uv_platform(triple: str) -> tuple[str, str | None, str, str]:
    """(arch family, arch variant, os, libc) of a triple, as uv names them (x86_64_v3 -> v3)."""
    pieces = triple.split("-")
    arch = pieces[0].split("_")
    family, variant = "_".join(arch[:2]), (arch[2] if len(arch) > 2 else None)
    return family, variant, pieces[2], pieces[3] if len(pieces) > 3 else "none"


def uv_key(fields: dict[str, str], variant: str | None) -> str:
    family, arch_variant, os_name, libc = uv_platform(fields["triple"])
    arch = f"{family}_{arch_variant}" if arch_variant else family
    plus = f"+{variant}" if variant else ""
    return f"cpython-{fields['python_version']}{plus}-{os_name}-{arch}-{libc}"


def select_slots(assets: Iterable[Asset]) -> list[Slot]:
    """The archive uv gets for each slot: the best-optimized build, stripped before unstripped.

    Two archives of one slot, rank and flavor would have the same file name (the name is made
    of version, tag, target, options and flavor, and there is one tag), so conflicting builds
    are caught earlier, as one file name with two contents.
    """
    candidates: dict[str, list[tuple[tuple[int, int], Asset, str | None]]] = {}
    for asset in assets:
        flavor = asset.fields["flavor"]
        if asset.kind not in FLAVOR_PREFERENCE:
            continue
        if asset.fields["options"].endswith("+static"):
            # Published, not offered to uv: a static python cannot load the compiled
            # extensions of the wheels uv installs (uv's own list has no static builds).
            continue
        variant, rank = uv_variant(asset.fields["options"])
        key = uv_key(asset.fields, variant)
        candidates.setdefault(key, []).append(((rank, FLAVOR_PREFERENCE[flavor]), asset, variant))
    slots = []
    for key in sorted(candidates):
        ranked = sorted(candidates[key], key=lambda c: (c[0], c[1].name), reverse=True)
        _, best, variant = ranked[0]
        slots.append(Slot(key, best, variant, tuple(a.name for _, a, _ in ranked[1:])))
    return slots


def _version_parts(version: str) -> tuple[int, int, int, str]:
    match = _VERSION.fullmatch(version)
    if not match:
        raise BuildError(
            f"Python version {version!r} is not <major>.<minor>.<patch>[a|b|rc<n>], which uv's "
            "downloads list needs; rebuild from a CPython release"
        )
    major, minor, patch, prerelease = match.groups()
    return int(major), int(minor), int(patch), prerelease or ""


def downloads_json(slots: list[Slot], urls: dict[str, str], tag: str) -> str:
    entries = {}
    for slot in slots:
        fields = slot.asset.fields
        family, arch_variant, os_name, libc = uv_platform(fields["triple"])
        major, minor, patch, prerelease = _version_parts(fields["python_version"])
        entries[slot.key] = {
            "name": "cpython",
            "arch": {"family": family, "variant": arch_variant},
            "os": os_name,
            "libc": libc,
            "major": major,
            "minor": minor,
            "patch": patch,
            "prerelease": prerelease,
            "url": urls[slot.key],
            "sha256": slot.asset.sha256,
            "variant": slot.variant,
            "build": tag,
        }
    return json.dumps(entries, indent=2, sort_keys=True) + "\n"


def latest_release_json(tag: str, prefix: str) -> str:
    # PBS points release_url at its release page; ours is the release notes.
    document = {
        "version": 1,
        "tag": tag,
        "release_url": f"{prefix}/RELEASE_NOTES.md",
        "asset_url_prefix": prefix,
    }
    return json.dumps(document, indent=2) + "\n"


def release_notes(tag: str, assets: list[Asset], slots: list[Slot]) -> str:
    lines = [
        f"# Release {tag}",
        "",
        "Point uv at `download-metadata.json` to install these builds: "
        "`UV_PYTHON_DOWNLOADS_JSON_URL=<this release>/download-metadata.json uv python install "
        "3.13`. Check the files with `sha256sum -c SHA256SUMS`.",
        "",
        "## Files",
        "",
        "| target | version | options | flavor | size (bytes) | sha256 |",
        "|---|---|---|---|---:|---|",
    ]
    for asset in assets:
        f = asset.fields
        lines.append(
            f"| {f['triple']} | {f['python_version']} | {f['options']} | {asset.kind} "
            f"| {asset.size} | `{asset.sha256}` |"
        )
    lines += [
        "",
        "## What uv installs",
        "",
        "| uv download | archive | options | note |",
        "|---|---|---|---|",
    ]
    for slot in slots:
        options = slot.asset.fields["options"]
        variant, rank = uv_variant(options)
        note = ""
        if variant in (None, "freethreaded") and rank < RANKS["pgo+lto"]:
            note = "no better-optimized build of this slot is in the release"
        if slot.passed_over:
            note = "; ".join(filter(None, [note, "preferred over " + ", ".join(slot.passed_over)]))
        lines.append(f"| `{slot.key}` | {slot.asset.name} | {options} | {note} |")
    if not slots:
        lines.append("| (none: the release has no install_only archives) | | | |")
    return "\n".join(lines) + "\n"
