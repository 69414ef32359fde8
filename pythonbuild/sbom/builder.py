"""Software bills of materials of a distribution, in SPDX 2.3 and CycloneDX 1.6 JSON.

One model (:class:`BillOfMaterials`) is built from what the driver says went into the
distribution, each part authoritative for its own:

- the sources: exactly those built into it (CPython and its libraries), as the registry pins
  them (version, URL, sha256, licenses, CPE and dependencies);
- the tool chain (``toolchain``): the systems the build ran in and linked against, and their
  packages.

``spdx`` and ``cyclonedx`` write the model out.  The bytes are deterministic: the only
time is the distribution's SOURCE_DATE_EPOCH, the document ids are UUIDs derived from a hash of
the content, and every key and list is sorted.  docs/sbom.md describes the documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from ..registry import Source
from .cyclonedx import cyclonedx_document
from .model import BillOfMaterials, Component, Relation
from .spdx import spdx_document
from .toolchain import DebianPackage, ImagePackages

# Debian's release numbers, for the operating systems' CPEs.
DEBIAN_RELEASES = {"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13"}
# Besides what the sysroot recipe asks for: glibc itself, whose libraries the binaries link to.
SYSROOT_ALSO = ("libc6",)
SBOM_SUFFIXES = {"spdx": ".spdx.json", "cyclonedx": ".cdx.json"}


# ---------------------------------------------------------------------------------------------
# Identifiers


def _purl_quote(text: str) -> str:
    # Percent-encoding as the purl reference implementation writes its canonical form.
    return quote(text, safe=":/")


def generic_purl(name: str, version: str, url: str, sha256: str) -> str:
    """``pkg:generic`` for a tarball: where it came from and the checksum of its bytes."""
    qualifiers = f"checksum=sha256:{sha256}&download_url={_purl_quote(url)}"
    return f"pkg:generic/{_purl_quote(name)}@{_purl_quote(version)}?{qualifiers}"


def debian_file_purl(source: Source) -> str:
    """``pkg:deb`` for a source whose bytes are a Debian file, not upstream's release.

    A repacked ``<package>_<version>.orig.tar.*`` is the source package's upstream part
    (``arch=source``); a ``<package>_<version>_<arch>.deb`` is that binary package.
    """
    assert source.debian_file and source.debian_package
    checksum = f"checksum=sha256:{source.sha256}"
    if source.is_debian_binary_package:
        name, version, arch = source.debian_file.removesuffix(".deb").split("_")
    else:
        name = source.debian_package
        version = source.debian_file.split("_", 1)[1].split(".orig.tar", 1)[0]
        arch = "source"
    return f"pkg:deb/debian/{_purl_quote(name)}@{_purl_quote(version)}?arch={arch}&{checksum}"


def pypi_file_purl(source: Source) -> str:
    """``pkg:pypi`` for a wheel from the Python Package Index: the project, version and file."""
    assert source.pypi_project and source.pypi_file
    name = source.pypi_project.lower().replace("_", "-")
    qualifiers = f"checksum=sha256:{source.sha256}&file_name={_purl_quote(source.pypi_file)}"
    return f"pkg:pypi/{_purl_quote(name)}@{_purl_quote(source.version)}?{qualifiers}"


def debian_purl(package: DebianPackage, suite: str) -> str:
    purl = f"pkg:deb/debian/{_purl_quote(package.name)}"
    if package.version:
        purl += f"@{_purl_quote(package.version)}"
    qualifiers = {"arch": package.architecture, "distro": suite}
    return purl + "?" + "&".join(f"{k}={_purl_quote(v)}" for k, v in qualifiers.items() if v)


def cpe23(part: str, vendor_product: str, version: str) -> str:
    """A CPE 2.3 formatted string; characters other than letters, digits, ``._-`` are quoted."""
    quoted = re.sub(r"([^A-Za-z0-9._-])", r"\\\1", version) if version else "*"
    return f"cpe:2.3:{part}:{vendor_product}:{quoted}:*:*:*:*:*:*:*"


# ---------------------------------------------------------------------------------------------
# The model


def _source_component(
    source: Source, ref: str, name: str, kind: str, description: str
) -> Component:
    properties = [("standalone-python:source-origin", source.origin)]
    download_url = source.url
    purl = generic_purl(name, source.version, source.url, source.sha256)
    if not source.upstream_serves_pinned_bytes:
        # The bytes are Debian's (a repack or a binary package) or a wheel's: the upstream URL
        # serves other bytes, so it is no download location for this checksum. The purl names
        # the file that was pinned.
        properties.append(("standalone-python:upstream-url", source.url))
        download_url = ""
        purl = pypi_file_purl(source) if source.is_wheel else debian_file_purl(source)
    return Component(
        ref=ref,
        name=name,
        version=source.version,
        kind=kind,
        description=description,
        licenses=source.licenses,
        download_url=download_url,
        file_name=source.filename,
        sha256=source.sha256,
        purl=purl,
        cpe=cpe23("a", source.cpe, source.version) if source.cpe else "",
        properties=tuple(properties),
    )


def _toolchain(images: Sequence[ImagePackages]) -> tuple[list[Component], list[Relation]]:
    components: list[Component] = []
    relations: list[Relation] = []
    for image in images:
        # The build image's programs build the distribution; the sysroot's headers, libraries
        # and start files end up in it.
        relation = "BUILD_TOOL_OF" if image.role == "build" else "BUILD_DEPENDENCY_OF"
        os_ref = f"os-{image.role}-{image.suite}"
        release = DEBIAN_RELEASES.get(image.suite, "")
        components.append(
            Component(
                ref=os_ref,
                name="debian",
                version=release or image.suite,
                kind="operating-system",
                description=f"Debian {image.suite} (debootstrap --variant=minbase), the "
                f"{image.role} image {image.tag}",
                cpe=cpe23("o", "debian:debian_linux", release) if release else "",
                supplier="Debian",
            )
        )
        relations.append(Relation(os_ref, relation, "cpython"))
        names = set(image.requested) | (set(SYSROOT_ALSO) if image.role == "sysroot" else set())
        for package in sorted(image.package(name) for name in names):
            ref = f"deb-{image.role}-{package.name}"
            components.append(
                Component(
                    ref=ref,
                    name=package.name,
                    version=package.version,
                    kind="build-tool" if image.role == "build" else "library",
                    description=f"Debian {image.suite} package in the {image.role} image"
                    + ("" if package.version else " (version not recorded)"),
                    purl=debian_purl(package, image.suite),
                    supplier="Debian",
                )
            )
            relations += [Relation(os_ref, "CONTAINS", ref), Relation(ref, relation, "cpython")]
    return components, relations


def bill_of_materials(
    *,
    cpython: Source,
    libraries: Sequence[Source],
    triple: str,
    options: str,
    tag: str,
    timestamp: int,
    toolchain: Sequence[ImagePackages],
    name: str,
    archives: Mapping[str, str],
    linked_against: Mapping[str, tuple[str, str]] | None = None,
) -> BillOfMaterials:
    """The distribution ``name``: ``cpython`` built for ``triple`` with build ``options``, the
    ``libraries`` linked into it, by ``toolchain``; ``archives``: flavor -> archive file name.
    ``tag`` and ``timestamp`` are the release's (the tool version and the document time).
    ``linked_against``: the libraries of ``libraries`` that are not linked in but that the build
    compiled and linked against (the C library's tree): name -> (SPDX relationship of it to
    cpython, what it is to the distribution)."""
    linked_against = linked_against or {}
    archive_list = ", ".join(archives[flavor] for flavor in sorted(archives))
    subject = _source_component(
        cpython,
        "cpython",
        "cpython",
        "application",
        f"CPython {cpython.version} for {triple}, build options {options}; "
        f"distribution archives: {archive_list}",
    )
    subject = replace(
        subject,
        properties=(
            *subject.properties,
            ("standalone-python:build-options", options),
            ("standalone-python:target-triple", triple),
        ),
    )
    library_components = [
        _source_component(
            source,
            source.name,
            source.project,
            "library",
            f"{source.project} {source.version}, "
            + (
                linked_against[source.name][1]
                if source.name in linked_against
                else "built from source and linked statically"
            ),
        )
        for source in libraries
    ]
    relations = [
        _relation("cpython", linked_against.get(lib.ref, ("STATIC_LINK", ""))[0], lib.ref)
        for lib in library_components
    ]
    relations += [
        Relation(source.name, "DEPENDS_ON", dep) for source in libraries for dep in source.depends
    ]
    toolchain_components, toolchain_relations = _toolchain(toolchain)
    return BillOfMaterials(
        name=name,
        timestamp=timestamp,
        tool_version=tag,
        subject=subject,
        components=tuple(sorted(library_components, key=lambda c: c.ref)),
        toolchain=tuple(sorted(toolchain_components, key=lambda c: c.ref)),
        relations=tuple(sorted(set(relations + toolchain_relations), key=_relation_key)),
    )


def _relation(subject: str, kind: str, other: str) -> Relation:
    """``subject`` ``kind`` ``other`` in SPDX's direction: its ``*_OF`` relationships name the
    other element first (``libc6-dev BUILD_DEPENDENCY_OF cpython``)."""
    return Relation(other, kind, subject) if kind.endswith("_OF") else Relation(subject, kind, other)


def _relation_key(relation: Relation) -> tuple[str, str, str]:
    return (relation.source, relation.kind, relation.target)


# ---------------------------------------------------------------------------------------------
# Writing


def dumps(document: Mapping) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def render_sboms(bom: BillOfMaterials) -> dict[str, bytes]:
    """Format name ("spdx", "cyclonedx") -> document bytes."""
    return {"spdx": dumps(spdx_document(bom)), "cyclonedx": dumps(cyclonedx_document(bom))}


def write_sboms(bom: BillOfMaterials, directory: Path, stem: str) -> list[Path]:
    """Write ``<stem>.spdx.json`` and ``<stem>.cdx.json`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, data in render_sboms(bom).items():
        path = directory / f"{stem}{SBOM_SUFFIXES[kind]}"
        path.write_bytes(data)
        written.append(path)
    return written
