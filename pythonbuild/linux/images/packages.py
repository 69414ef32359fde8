"""The Debian packages of the build images, recorded with their exact versions.

Image tags hash the recipes (which packages were asked for), not what apt installed from the
mirror on the day an image was made, so the installed versions are recorded beside the tag, when
the image is made or first found: ``<cache>/images/<image name>-<tag>.tsv``, one
``package<TAB>version<TAB>architecture`` line per installed package, sorted by name.  The
records feed the SBOMs' tool-chain components and the full archive's
``python/build/image-packages.txt`` (``pythonbuild.sbom.toolchain``).

* The build image (bookworm base plus clang/lld/llvm and the build tools): ``dpkg-query`` in a
  container made from it.
* The sysroot image keeps no dpkg database (only usr/include, usr/lib, lib, lib64), so its list is
  read from the rootfs's ``var/lib/dpkg/status`` right after debootstrap, before pruning.  A
  sysroot made before this recording existed has no record: its packages are then known only by
  the names debootstrap was asked to include, without versions.
"""

from __future__ import annotations

from pathlib import Path

import docker.errors

from ...errors import BuildError
from ...sbom.toolchain import DebianPackage
from ..engine import Engine

RECORDS_DIR = "images"  # below the cache directory
DPKG_QUERY = [
    "dpkg-query",
    "-W",
    "-f=${db:Status-Status}\\t${Package}\\t${Version}\\t${Architecture}\\n",
]


def records_dir(cache_dir: Path) -> Path:
    return cache_dir / RECORDS_DIR


def record_path(records: Path, tag: str) -> Path:
    # "standalone-python/build-x86_64-unknown-linux-gnu:f49a..." -> "build-x86_64-...-f49a....tsv"
    return records / (tag.rsplit("/", 1)[-1].replace(":", "-") + ".tsv")


def format_package_list(packages: list[DebianPackage] | tuple[DebianPackage, ...]) -> str:
    return "".join(f"{p.name}\t{p.version}\t{p.architecture}\n" for p in sorted(set(packages)))


def parse_package_list(text: str) -> tuple[DebianPackage, ...]:
    packages = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) != 3 or not all(fields):
            raise BuildError(f"package list line {number} is not 'package<TAB>version<TAB>arch'")
        packages.append(DebianPackage(*fields))
    return tuple(sorted(packages))


def parse_dpkg_status(text: str) -> tuple[DebianPackage, ...]:
    """The installed packages of a dpkg status file (``var/lib/dpkg/status``)."""
    packages = []
    for paragraph in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Status", "").endswith(" installed"):
            packages.append(
                DebianPackage(fields["Package"], fields["Version"], fields["Architecture"])
            )
    return tuple(sorted(packages))


def write_record(records: Path, tag: str, packages: tuple[DebianPackage, ...]) -> Path:
    path = record_path(records, tag)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(format_package_list(packages))
    partial.replace(path)
    return path


def read_record(records: Path, tag: str) -> tuple[DebianPackage, ...]:
    """The recorded packages of ``tag``; empty when there is no record."""
    path = record_path(records, tag)
    return parse_package_list(path.read_text()) if path.is_file() else ()


def record_rootfs_packages(records: Path, tag: str, rootfs: Path) -> None:
    """Record a freshly bootstrapped rootfs's packages (before a sysroot loses its dpkg database)."""
    status = rootfs / "var" / "lib" / "dpkg" / "status"
    write_record(records, tag, parse_dpkg_status(status.read_text(encoding="utf-8")))


def parse_dpkg_query(output: str) -> tuple[DebianPackage, ...]:
    """The installed packages in the output of ``DPKG_QUERY``."""
    packages = []
    for line in output.splitlines():
        status, name, version, architecture = line.split("\t")
        if status == "installed":  # not packages removed with their configuration files kept
            packages.append(DebianPackage(name, version, architecture))
    return tuple(sorted(packages))


def list_image_packages(engine: Engine, tag: str) -> tuple[DebianPackage, ...]:
    """The packages installed in the image ``tag`` (dpkg-query in a throwaway container)."""
    try:
        output = engine.client.containers.run(
            tag, DPKG_QUERY, remove=True, network_disabled=True, stdout=True, stderr=False
        )
    except docker.errors.DockerException as exc:
        raise BuildError(f"cannot list the Debian packages of {tag}: {exc}") from None
    return parse_dpkg_query(output.decode())


def record_image_packages(engine: Engine, records: Path, tag: str) -> None:
    """Record the packages installed in the image ``tag``."""
    write_record(records, tag, list_image_packages(engine, tag))
