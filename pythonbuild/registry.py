"""The source registry (``resources/downloads.yml``): pinned sources and their dependency graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath

import jsonschema
import yaml

from .errors import BuildError, UsageError
from .paths import RESOURCES

ORIGINS = ("upstream", "debian-orig", "debian-repack", "debian-binary", "pypi-wheel")
# Origins whose bytes upstream never serves: a repacked tarball, a Debian binary package, a
# wheel on the Python Package Index that repackages an upstream release.
NOT_FROM_UPSTREAM = frozenset({"debian-repack", "debian-binary", "pypi-wheel"})

_ENTRY_SCHEMA = {
    "type": "object",
    "required": ["version", "url", "size", "sha256", "origin", "licenses", "license_file"],
    "additionalProperties": False,
    "properties": {
        "version": {"type": "string"},
        "url": {"type": "string", "pattern": "^https?://"},
        "size": {"type": "integer", "minimum": 1},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "origin": {"enum": list(ORIGINS)},
        "debian": {
            "type": "object",
            "required": ["package", "file"],
            "additionalProperties": False,
            "properties": {"package": {"type": "string"}, "file": {"type": "string"}},
        },
        "pypi": {
            "type": "object",
            "required": ["project", "file"],
            "additionalProperties": False,
            "properties": {
                "project": {"type": "string"},
                "file": {"type": "string", "pattern": "^[^/]+\\.whl$"},
            },
        },
        "licenses": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "license_file": {"type": "string"},
        "depends": {"type": "array", "items": {"type": "string"}},
        "strip_components": {"type": "integer", "minimum": 0},
        "project": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.\\-]*$"},
        # CPE 2.3 vendor:product, as NVD names the project (SBOM identity, not a build input)
        "cpe": {"type": "string", "pattern": "^[a-z0-9_.\\-]+:[a-z0-9_.\\-]+$"},
    },
}
REGISTRY_SCHEMA = {"type": "object", "additionalProperties": _ENTRY_SCHEMA}


@dataclass(frozen=True)
class Source:
    """One pinned source tarball and what we know about it."""

    name: str
    version: str
    url: str
    size: int
    sha256: str
    origin: str
    licenses: tuple[str, ...]
    license_file: str
    depends: tuple[str, ...] = ()
    debian_package: str | None = None
    debian_file: str | None = None
    strip_components: int = 1
    cpe: str | None = None  # "vendor:product"
    # The project this is a release of, when the entry is a second pin of another entry's
    # project (musl-static: musl): it is built by that project's build script and named so in
    # SBOMs and license files.
    project_name: str | None = None
    # The wheel's project and file name on the Python Package Index (origin pypi-wheel).
    pypi_project: str | None = None
    pypi_file: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def filename(self) -> str:
        """Cache file name: the upstream file name (the bytes may be Debian's, see ``origin``)."""
        name = PurePosixPath(self.url).name
        if self.origin != "upstream" and self.debian_file:
            # Never store non-upstream bytes under the upstream name.
            name = self.debian_file
        if self.is_wheel and self.pypi_file:
            name = self.pypi_file
        return name

    @property
    def project(self) -> str:
        return self.project_name or self.name

    @property
    def upstream_serves_pinned_bytes(self) -> bool:
        return self.origin not in NOT_FROM_UPSTREAM

    @property
    def is_debian_binary_package(self) -> bool:
        """A ``.deb`` (an ar archive holding ``data.tar.*``), not a source tarball."""
        return self.origin == "debian-binary"

    @property
    def is_wheel(self) -> bool:
        """A wheel (a zip archive) from the Python Package Index, not a source tarball."""
        return self.origin == "pypi-wheel"


@dataclass(frozen=True)
class Registry:
    sources: dict[str, Source]

    def __getitem__(self, name: str) -> Source:
        try:
            return self.sources[name]
        except KeyError:
            raise BuildError(
                f"no source named {name!r} in the registry; add it to pythonbuild/resources/downloads.yml"
            ) from None

    def cpython(self, python: str) -> Source:
        name = f"cpython-{python}"
        if name not in self.sources:
            known = sorted(
                n.removeprefix("cpython-") for n in self.sources if n.startswith("cpython-")
            )
            raise UsageError(
                f"unknown Python version {python!r}; choose one of: {', '.join(known)}"
            )
        return self.sources[name]

    def python_versions(self) -> list[str]:
        return sorted(n.removeprefix("cpython-") for n in self.sources if n.startswith("cpython-"))

    def closure(self, names: list[str]) -> list[str]:
        """``names`` plus everything they depend on, dependencies first, ties by name."""
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str, chain: tuple[str, ...]) -> None:
            if name in order:
                return
            if name in visiting:
                raise BuildError(f"dependency cycle in the registry: {' -> '.join((*chain, name))}")
            visiting.add(name)
            for dep in sorted(self[name].depends):
                visit(dep, (*chain, name))
            visiting.discard(name)
            order.append(name)

        for name in sorted(names):
            visit(name, ())
        return order

    def dependencies(self, name: str) -> list[str]:
        """All transitive dependencies of ``name`` (not itself), dependencies first."""
        return [n for n in self.closure([name]) if n != name]

    def _libc_first(self, libc: str | None) -> list[str]:
        """A C library built from source (targets.yml ``libc``) and its dependencies."""
        return [] if libc is None else self.closure([libc])

    def build_order(self, needs: list[str], libc: str | None = None) -> list[str]:
        """The libraries a build makes, in the order it makes them: ``libc`` (a C library
        built from source, targets.yml ``libc``) and its dependencies first, then ``needs``
        and theirs."""
        first = self._libc_first(libc)
        return first + [name for name in self.closure(needs) if name not in first]

    def step_inputs(self, name: str, libc: str | None = None) -> list[str]:
        """What the build of ``name`` reads: its dependencies and, unless it is part of it,
        the C library built from source, which every compile and link of the target uses."""
        first = self._libc_first(libc)
        depends = self.dependencies(name)
        if name in first:
            return depends
        return first + [dep for dep in depends if dep not in first]


def parse_registry(data: dict) -> Registry:
    try:
        jsonschema.validate(data, REGISTRY_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise BuildError(f"downloads.yml is invalid at {where}: {exc.message}") from None
    sources = {}
    for name, entry in data.items():
        debian = entry.get("debian") or {}
        pypi = entry.get("pypi") or {}
        if (entry["origin"] == "pypi-wheel") != bool(pypi):
            raise BuildError(
                f"downloads.yml: {name} must have a pypi: {{project, file}} entry exactly when "
                "its origin is pypi-wheel"
            )
        sources[name] = Source(
            name=name,
            version=str(entry["version"]),
            url=entry["url"],
            size=entry["size"],
            sha256=entry["sha256"],
            origin=entry["origin"],
            licenses=tuple(entry["licenses"]),
            license_file=entry["license_file"],
            depends=tuple(entry.get("depends", [])),
            debian_package=debian.get("package"),
            debian_file=debian.get("file"),
            strip_components=entry.get("strip_components", 1),
            cpe=entry.get("cpe"),
            project_name=entry.get("project"),
            pypi_project=pypi.get("project"),
            pypi_file=pypi.get("file"),
        )
    registry = Registry(sources)
    for source in sources.values():
        for dep in source.depends:
            registry[dep]
    registry.closure(list(sources))  # raises on cycles
    return registry


@cache
def load_registry(path: Path = RESOURCES / "downloads.yml") -> Registry:
    return parse_registry(yaml.safe_load(path.read_text()))
