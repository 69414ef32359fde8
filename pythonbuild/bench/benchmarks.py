"""Which benchmarks exist, what a selection such as ``default`` or ``nbody,stdlib-c`` means.

Two sources: pyperformance's data files (its ``MANIFEST`` names every benchmark and the metadata
file that says which script runs it with which arguments) and this project's own scripts under
``pythonbuild/resources/bench`` (listed in ``benchmarks.toml`` there).
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError, UsageError
from ..paths import RESOURCES

BENCH_RESOURCES = RESOURCES / "bench"
CATALOG_FILE = BENCH_RESOURCES / "benchmarks.toml"
DEFAULT_SELECTION = "default"


@dataclass(frozen=True)
class Benchmark:
    """One selectable benchmark: a pyperf script run with fixed arguments."""

    name: str
    origin: str  # "pyperformance" or "custom"
    source_dir: Path  # the directory the script lives in, copied whole into the work dir
    script: str  # path of the script relative to source_dir
    args: tuple[str, ...] = ()
    requirements: Path | None = None  # a pip requirements file the script needs
    requires_python: str | None = None  # a PEP 440 specifier, e.g. ">=3.12"


@dataclass(frozen=True)
class Catalog:
    benchmarks: dict[str, Benchmark]
    groups: dict[str, tuple[str, ...]]
    pyperformance_version: str
    pyperf_version: str

    def select(self, selection: str) -> list[Benchmark]:
        """The benchmarks named by a comma-separated list of benchmark and group names."""
        names = [part.strip() for part in selection.split(",") if part.strip()]
        if not names:
            raise UsageError("--benchmarks is empty; name benchmarks or groups, e.g. nbody,float")
        chosen: dict[str, Benchmark] = {}
        for name in names:
            for benchmark in self._expand(name, ()):
                chosen.setdefault(benchmark.name, benchmark)
        return list(chosen.values())

    def parts(self, selected: list[Benchmark]) -> dict[str, tuple[str, ...]]:
        """Groups that are part, not all, of ``selected``, each with the rest of the selection.

        For the default set: ``stdlib-c`` (the bundled C libraries, which a build's PGO and LTO
        of the interpreter do not touch) and ``without stdlib-c`` (the interpreter itself), so
        neither's geometric mean hides the other's.
        """
        names = [benchmark.name for benchmark in selected]
        found: dict[str, tuple[str, ...]] = {}
        for group in sorted(self.groups):
            members = {benchmark.name for benchmark in self._expand(group, ())}
            inside = tuple(name for name in names if name in members)
            if inside and len(inside) < len(names):
                found[group] = inside
                found[f"without {group}"] = tuple(name for name in names if name not in members)
        return found

    def _expand(self, name: str, parents: tuple[str, ...]) -> list[Benchmark]:
        if name in self.benchmarks:
            return [self.benchmarks[name]]
        if name in self.groups:
            if name in parents:
                raise BuildError(f"{CATALOG_FILE}: group {name!r} contains itself")
            found: list[Benchmark] = []
            for member in self.groups[name]:
                found += self._expand(member, (*parents, name))
            return found
        if parents:
            raise BuildError(
                f"{CATALOG_FILE}: group {parents[-1]!r} names {name!r}, which pyperformance "
                f"{self.pyperformance_version} does not have; fix the group"
            )
        raise UsageError(
            f"unknown benchmark {name!r}; choose from the groups {', '.join(sorted(self.groups))} "
            f"or the benchmarks listed by --list-benchmarks"
        )


def parse_manifest(text: str) -> dict[str, str]:
    """``name -> metafile`` from the ``[benchmarks]`` table of pyperformance's MANIFEST."""
    entries: dict[str, str] = {}
    section = None
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section != "benchmarks":
            continue
        fields = line.split()
        if fields == ["name", "metafile"]:
            continue  # the table's header row
        if len(fields) != 2:
            raise BuildError(f"pyperformance MANIFEST: cannot read the line {raw_line!r}")
        entries[fields[0]] = fields[1]
    return entries


def pyperformance_benchmark(data_dir: Path, name: str, metafile: str) -> Benchmark:
    """Where the script of one MANIFEST entry is and which arguments and packages it needs.

    ``<local>`` means ``bm_<name>/pyproject.toml``; ``<local:base>`` means the variant file
    ``bm_<base>/bm_<name>.toml`` of the base benchmark's script (e.g. pickle_pure_python runs
    ``bm_pickle/run_benchmark.py --pure-python pickle``).
    """
    if metafile == "<local>":
        source_dir = data_dir / f"bm_{name}"
        meta_path = source_dir / "pyproject.toml"
    elif metafile.startswith("<local:") and metafile.endswith(">"):
        source_dir = data_dir / f"bm_{metafile[len('<local:') : -1]}"
        meta_path = source_dir / f"bm_{name}.toml"
    else:
        raise BuildError(f"pyperformance MANIFEST: benchmark {name!r} has an unknown {metafile!r}")
    try:
        meta = tomllib.loads(meta_path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read {meta_path}: {exc}") from None
    settings = meta.get("tool", {}).get("pyperformance", {})
    requirements = source_dir / "requirements.txt"
    return Benchmark(
        name=name,
        origin="pyperformance",
        source_dir=source_dir,
        script=settings.get("runscript", "run_benchmark.py"),
        args=tuple(settings.get("extra_opts", ())),
        requirements=requirements if requirements.is_file() else None,
        requires_python=meta.get("project", {}).get("requires-python"),
    )


def installed_pyperformance_data() -> Path:
    """The benchmarks directory of the pyperformance installed in this (the bench) venv."""
    try:
        import pyperformance
    except ImportError:
        raise BuildError(
            "pyperformance is not installed here; run the bench as `python -m pythonbuild bench`, "
            "which makes build/venv-bench from requirements-bench.txt"
        ) from None
    return Path(pyperformance.__file__).parent / "data-files" / "benchmarks"


def load_catalog(pyperformance_data: Path, catalog_file: Path = CATALOG_FILE) -> Catalog:
    config = tomllib.loads(catalog_file.read_text())
    manifest = parse_manifest((pyperformance_data / "MANIFEST").read_text())
    benchmarks = {
        name: pyperformance_benchmark(pyperformance_data, name, metafile)
        for name, metafile in manifest.items()
    }
    for name, entry in config.get("custom", {}).items():
        script = catalog_file.parent / entry["script"]
        benchmarks[name] = Benchmark(
            name=name,
            origin="custom",
            source_dir=script.parent,
            script=script.name,
            args=tuple(entry.get("args", ())),
            requires_python=entry.get("requires-python"),
        )
    groups = {name: tuple(members) for name, members in config.get("groups", {}).items()}
    clashes = sorted(set(groups) & set(benchmarks))
    if clashes:
        raise BuildError(f"{catalog_file}: {', '.join(clashes)} name both a group and a benchmark")
    pins = config["pins"]
    return Catalog(benchmarks, groups, pins["pyperformance"], pins["pyperf"])


def python_supports(requires_python: str | None, version: str) -> bool:
    """Whether an interpreter of ``version`` (e.g. "3.13.0") meets a benchmark's specifier."""
    if not requires_python:
        return True
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(requires_python).contains(version, prereleases=True)


@dataclass(frozen=True)
class StagedBenchmark:
    """A benchmark whose files were copied into the work dir, where every interpreter sees them."""

    benchmark: Benchmark
    script: Path
    requirements: Path | None

    @property
    def name(self) -> str:
        return self.benchmark.name


def stage_scripts(benchmarks: list[Benchmark], scripts_dir: Path) -> list[StagedBenchmark]:
    """Copy the benchmarks' directories into this run's ``scripts_dir``.

    A chrooted interpreter cannot read the bench venv's site-packages or this checkout, only the
    work dir that is mounted into its chroot; the copies also guarantee that every interpreter
    runs the very same files.
    """
    staged = []
    for benchmark in benchmarks:
        dest = scripts_dir / benchmark.origin / benchmark.source_dir.name
        if not dest.exists():
            shutil.copytree(benchmark.source_dir, dest,
                            ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        requirements = (
            dest / benchmark.requirements.relative_to(benchmark.source_dir)
            if benchmark.requirements
            else None
        )
        staged.append(StagedBenchmark(benchmark, dest / benchmark.script, requirements))
    return staged
