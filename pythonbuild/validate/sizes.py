"""Where an archive's bytes go: by part of the installation, by member, and inside its largest
ELF files by section (``python -m pythonbuild sizes``; docs/sizes.md).

A member's share of the compressed archive is estimated by compressing it alone with the
archive's codec: gzip's 32 KiB window sees little across members anyway, and the estimates are
scaled so that they add up to the archive's real size.
"""

from __future__ import annotations

import fnmatch
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
import zstandard
from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from .. import log
from ..distribution.archive import GZIP_LEVEL, open_distribution, parse_archive_name
from ..distribution.elf import ELF_MAGIC
from ..errors import BuildError
from ..paths import RESOURCES

# The parts of an installation, first match wins; paths below python/install/ (full archives)
# or python/ (install_only).
PARTS: tuple[tuple[str, str], ...] = (
    ("bin/python3*", "interpreter (bin/)"),
    ("lib/libpython*", "libpython"),
    ("lib/python3*/config-*/*", "static libpython and its build files (config-*)"),
    ("lib/python3*/lib-dynload/*", "extension modules (lib-dynload)"),
    ("lib/python3*/site-packages/*", "site-packages (pip)"),
    ("lib/python3*/ensurepip/_bundled/*", "the pip wheel of ensurepip"),
    ("lib/python3*/test/*", "the test suite (test/)"),
    ("lib/python3*/*/tests/*", "other tests (*/tests/)"),
    ("lib/python3*/idlelib/idle_test/*", "other tests (*/tests/)"),
    ("lib/python3*/*.pyc", "bytecode (__pycache__)"),
    ("lib/python3*/*.py", "standard library sources (.py)"),
    ("lib/tcl*", "Tcl/Tk script libraries"),
    ("lib/tk*", "Tcl/Tk script libraries"),
    ("include/*", "headers"),
    ("share/*", "share/ (manual pages, terminfo)"),
    ("build/*", "objects and static libraries for relinking (build/)"),
    ("licenses/*", "licenses"),
    ("sbom.*", "SBOMs"),
)
OTHER = "other"
# The zstd level of the estimate: the archive's own level 19 costs minutes on a full archive,
# and the estimates are scaled to the real size anyway.
ESTIMATE_ZSTD_LEVEL = 3


@dataclass(frozen=True)
class Member:
    path: str  # below python/ (and install/ in a full archive)
    size: int
    estimate: int  # compressed alone, before scaling


@dataclass(frozen=True)
class ElfSections:
    path: str
    sections: tuple[tuple[str, int, bool], ...]  # name, size, loaded at run time


@dataclass
class SizeReport:
    archive: Path
    compressed: int
    members: list[Member] = field(default_factory=list)
    elf_files: list[ElfSections] = field(default_factory=list)

    @property
    def scale(self) -> float:
        estimated = sum(m.estimate for m in self.members)
        return self.compressed / estimated if estimated else 0.0

    def parts(self) -> list[tuple[str, int, float, int]]:
        """(part, uncompressed bytes, compressed bytes, members), largest compressed first."""
        totals: dict[str, list[float]] = {}
        scale = self.scale
        for member in self.members:
            entry = totals.setdefault(part_of(member.path), [0, 0.0, 0])
            entry[0] += member.size
            entry[1] += member.estimate * scale
            entry[2] += 1
        rows = [(name, int(v[0]), v[1], int(v[2])) for name, v in totals.items()]
        return sorted(rows, key=lambda row: (-row[2], row[0]))

    def largest(self, count: int) -> list[Member]:
        return sorted(self.members, key=lambda m: (-m.estimate, m.path))[:count]


def part_of(path: str) -> str:
    for pattern, part in PARTS:
        if fnmatch.fnmatchcase(path, pattern):
            return part
    return OTHER


def _relative(name: str) -> str:
    """A member's path below python/install/ or python/ (``build/...`` stays as it is)."""
    path = name.removeprefix("python/")
    return path.removeprefix("install/")


def _estimator(archive: Path):
    if archive.name.endswith(".tar.zst"):
        compressor = zstandard.ZstdCompressor(level=ESTIMATE_ZSTD_LEVEL)
        return lambda data: len(compressor.compress(data))
    return lambda data: len(zlib.compress(data, GZIP_LEVEL))


def read_sizes(archive: Path, elf_count: int = 3) -> SizeReport:
    """Every regular member's size and estimate; the sections of the ``elf_count`` largest ELF
    files. A damaged archive is a BuildError (from open_distribution)."""
    report = SizeReport(archive, archive.stat().st_size)
    estimate = _estimator(archive)
    elf_candidates: list[tuple[int, str, bytes]] = []
    with open_distribution(archive) as tar:
        for member in tar:
            if not member.isfile():
                continue
            handle = tar.extractfile(member)
            data = handle.read() if handle else b""
            path = _relative(member.name)
            report.members.append(Member(path, len(data), estimate(data)))
            if data.startswith(ELF_MAGIC):
                elf_candidates.append((len(data), path, data))
                elf_candidates = sorted(elf_candidates, key=lambda c: (-c[0], c[1]))[:elf_count]
    report.elf_files = [_sections(path, data) for _, path, data in elf_candidates]
    return report


def _sections(path: str, data: bytes) -> ElfSections:
    try:
        elf = ELFFile(io.BytesIO(data))
        sections = [
            (s.name, s["sh_size"], bool(s["sh_flags"] & SH_FLAGS.SHF_ALLOC))
            for s in elf.iter_sections()
            if s["sh_type"] != "SHT_NOBITS" and s["sh_size"]
        ]
    except ELFError:
        sections = []
    return ElfSections(path, tuple(sorted(sections, key=lambda s: (-s[1], s[0]))))


def _mb(size: float) -> str:
    return f"{size / 1e6:8.2f} MB"


def render_report(report: SizeReport, top: int) -> str:
    lines = [
        f"{report.archive.name}: {_mb(report.compressed).strip()} compressed, "
        f"{_mb(sum(m.size for m in report.members)).strip()} in {len(report.members)} files",
        "",
        "by part (compressed: each member compressed alone, scaled to the archive's size)",
        f"  {'compressed':>11}  {'unpacked':>11}  {'files':>6}  part",
    ]
    lines += [
        f"  {_mb(compressed)}  {_mb(size)}  {count:6}  {name}"
        for name, size, compressed, count in report.parts()
    ]
    lines += ["", f"the {top} largest members (compressed)"]
    scale = report.scale
    lines += [f"  {_mb(m.estimate * scale)}  {_mb(m.size)}  {m.path}" for m in report.largest(top)]
    for elf in report.elf_files:
        lines += ["", f"sections of {elf.path} (loaded: mapped at run time)"]
        lines += [
            f"  {_mb(size)}  {'loaded' if loaded else '      '}  {name}"
            for name, size, loaded in elf.sections[:top]
        ]
    return "\n".join(lines)


# The recorded archive sizes: a build whose archive grows more than the margin over its
# figure fails (a size regression is caught where it is made, not by users' downloads).
RECORD_PATH = RESOURCES / "archive-sizes.yml"
DEFAULT_MARGIN = 0.03


@dataclass(frozen=True)
class SizeRecord:
    margin: float
    sizes: dict[str, int]  # archive_key -> bytes

    @classmethod
    def load(cls, path: Path | None = None) -> SizeRecord:
        path = path or RECORD_PATH
        data = yaml.safe_load(path.read_text()) if path.exists() else None
        data = data or {}
        return cls(float(data.get("margin", DEFAULT_MARGIN)), dict(data.get("sizes") or {}))

    def dump(self, path: Path | None = None) -> Path:
        path = path or RECORD_PATH
        header = (
            "# Recorded archive sizes in bytes: a build whose archive is more than `margin`\n"
            "# larger fails (python -m pythonbuild sizes --record ARCHIVE... writes them;\n"
            "# docs/sizes.md). Keys: <triple> <python major.minor> <options> <flavor>.\n"
        )
        body = yaml.safe_dump(
            {"margin": self.margin, "sizes": dict(sorted(self.sizes.items()))}, sort_keys=False
        )
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(header + body)
        partial.replace(path)
        return path


def archive_key(archive: Path) -> str:
    """``<triple> <major.minor> <options> <flavor>``; ValueError for a name that is not a
    distribution archive's."""
    fields = parse_archive_name(archive.name)
    minor = ".".join(fields["python_version"].split(".")[:2])
    return f"{fields['triple']} {minor} {fields['options']} {fields['flavor']}"


def size_problems(archives: list[Path], record: SizeRecord) -> list[str]:
    """One line per archive that grew more than the margin over its recorded size."""
    problems = []
    for archive in archives:
        recorded = record.sizes.get(archive_key(archive))
        size = archive.stat().st_size
        if recorded is not None and size > recorded * (1 + record.margin):
            problems.append(
                f"{archive.name}: {size / 1e6:.2f} MB, {100 * (size / recorded - 1):.1f}% over "
                f"its recorded {recorded / 1e6:.2f} MB (margin {100 * record.margin:g}%): see "
                "where it grew with `python -m pythonbuild sizes ARCHIVE`; if that is meant, "
                "record it with `python -m pythonbuild sizes --record ARCHIVE`"
            )
    return problems


def check_archive_sizes(paths: list[Path]) -> None:
    """The build's check: BuildError when one of its archives grew past its recorded size
    (each such archive is logged in one line first). Other outputs (SBOMs, sums) are ignored."""
    archives = []
    for path in paths:
        try:
            archive_key(path)
        except ValueError:
            continue
        archives.append(path)
    problems = size_problems(archives, SizeRecord.load())
    for line in problems:
        log.info(line)
    if problems:
        raise BuildError(
            f"{len(problems)} archive(s) larger than {RECORD_PATH.name} allows (above)"
        )
