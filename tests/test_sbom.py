"""SBOMs: built from the real registry and a 3.13 plan, checked with the formats' own tools.

SPDX 2.3 is checked against the official JSON schema (as lib4sbom ships it) and by spdx-tools'
validator (SPDX ids, relationships, license expressions, purl/CPE locators); CycloneDX 1.6 by
cyclonedx-python-lib's strict validator (the official bom-1.6 schema with its SPDX license and
JSF schemas).  The image package lists are a fake, the shape dpkg-query gives.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import replace
from functools import cache
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from pythonbuild.distribution.assemble import linked_against
from pythonbuild.linux import plan as plan_mod
from pythonbuild.linux.images.build import BUILD_PACKAGES, SYSROOT_PACKAGES
from pythonbuild.linux.images.packages import (
    format_package_list,
    parse_dpkg_status,
    parse_package_list,
    read_record,
    write_record,
)
from pythonbuild.options import BuildOptions
from pythonbuild.registry import load_registry
from pythonbuild.sbom.builder import bill_of_materials, cpe23, render_sboms, write_sboms
from pythonbuild.sbom.model import BillOfMaterials
from pythonbuild.sbom.toolchain import DebianPackage, ImagePackages, image_packages_text
from pythonbuild.targets import get_target

TARGET = get_target("x86_64-unknown-linux-gnu")
STEM = "cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-noopt-full"
ARCHIVES = {
    "full": f"{STEM}.tar.zst",
    "install_only": "cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-noopt-install_only.tar.gz",
}
LLVM = "1:19.1.7-3~deb12u1"
SYSROOT_INSTALLED = (
    DebianPackage("gcc-10-base", "10.2.1-6", "amd64"),
    DebianPackage("libc6", "2.31-13+deb11u11", "amd64"),
    DebianPackage("libc6-dev", "2.31-13+deb11u11", "amd64"),
    DebianPackage("libgcc-10-dev", "10.2.1-6", "amd64"),
    DebianPackage("linux-libc-dev", "5.10.234-1", "amd64"),
)


# ---------------------------------------------------------------------------------------------
# Validation with the formats' own tools (also used by the end-to-end test)


@cache
def _spdx_schema_validator() -> jsonschema.Draft7Validator:
    schema = importlib.resources.files("lib4sbom") / "schemas" / "spdx" / "2.3-schema.json"
    return jsonschema.Draft7Validator(json.loads(schema.read_text(encoding="utf-8")))


def spdx_problems(path: Path) -> list[str]:
    """Everything wrong with an SPDX 2.3 JSON file, by the schema and by spdx-tools."""
    document = json.loads(path.read_text())
    problems = [error.message for error in _spdx_schema_validator().iter_errors(document)]
    messages = validate_full_spdx_document(parse_file(str(path)))
    return problems + [message.validation_message for message in messages]


def cyclonedx_problems(text: str) -> list[str]:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    return [str(error) for error in errors.data] if errors else []


# ---------------------------------------------------------------------------------------------
# Fixtures


def _images(recorded: bool = True) -> list[ImagePackages]:
    build_installed = tuple(
        DebianPackage(name, LLVM if name.endswith("-19") else "1.0-1", "amd64")
        for name in [*BUILD_PACKAGES, "libc6", "base-files"]
    )
    return [
        ImagePackages(
            "build",
            "standalone-python/build-x86_64-unknown-linux-gnu:0123456789abcdef",
            "bookworm",
            tuple(BUILD_PACKAGES),
            build_installed if recorded else (),
        ),
        ImagePackages(
            "sysroot",
            "standalone-python/sysroot-bullseye:fedcba9876543210",
            "bullseye",
            tuple(SYSROOT_PACKAGES["bullseye"]),
            SYSROOT_INSTALLED if recorded else (),
        ),
    ]


def _plan(epoch: int = 1_763_700_000) -> plan_mod.BuildPlan:
    request = plan_mod.BuildRequest(TARGET, "3.13", BuildOptions(), "20261121", epoch)
    return plan_mod.make_plan(request, load_registry(), "img:1")


def _bill(plan: plan_mod.BuildPlan, images: list[ImagePackages]) -> BillOfMaterials:
    """The model of ``plan``'s distribution, from what the Linux driver hands assembly."""
    request = plan.request
    return bill_of_materials(
        cpython=plan.step("cpython").source,
        libraries=[step.source for step in plan.steps if step.name != "cpython"],
        triple=request.target.triple,
        options=request.options.name,
        tag=request.tag,
        timestamp=request.source_date_epoch,
        toolchain=images,
        name=STEM,
        archives=ARCHIVES,
        linked_against=linked_against(request.target, request.options),
    )


def _sboms(plan=None, images=None) -> dict[str, bytes]:
    return render_sboms(_bill(plan or _plan(), _images() if images is None else images))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("sbom")
    bom = _bill(_plan(), _images())
    spdx, cyclonedx = write_sboms(bom, directory, STEM)
    return {"spdx": spdx, "cyclonedx": cyclonedx}


@pytest.fixture(scope="module")
def spdx(written) -> dict:
    return json.loads(written["spdx"].read_text())


@pytest.fixture(scope="module")
def cyclonedx(written) -> dict:
    return json.loads(written["cyclonedx"].read_text())


def _bundled() -> list[plan_mod.Step]:
    return [step for step in _plan().steps if step.name != "cpython"]


# ---------------------------------------------------------------------------------------------
# Tests


def test_file_names(written):
    assert written["spdx"].name == f"{STEM}.spdx.json"
    assert written["cyclonedx"].name == f"{STEM}.cdx.json"


def test_spdx_is_valid(written):
    assert spdx_problems(written["spdx"]) == []


def test_cyclonedx_is_valid(written):
    assert cyclonedx_problems(written["cyclonedx"].read_text()) == []


def test_spdx_names_every_bundled_library(spdx):
    packages = {p["SPDXID"]: p for p in spdx["packages"]}
    registry = load_registry()
    for step in [*_bundled(), _plan().step("cpython")]:
        source = registry[step.source.name]
        package = packages[f"SPDXRef-{step.name}"]
        assert package["versionInfo"] == source.version
        assert package["checksums"] == [{"algorithm": "SHA256", "checksumValue": source.sha256}]
        assert package["licenseDeclared"] == " AND ".join(source.licenses)
        refs = {r["referenceType"]: r["referenceLocator"] for r in package["externalRefs"]}
        purl = PackageURL.from_string(refs["purl"])
        if source.upstream_serves_pinned_bytes:
            assert package["downloadLocation"] == source.url
            assert (purl.type, purl.name, purl.version) == ("generic", step.name, source.version)
            assert purl.qualifiers == {
                "checksum": f"sha256:{source.sha256}",
                "download_url": source.url,
            }
        elif source.is_wheel:
            # A wheel's bytes: the purl names the file on the package index.
            assert package["downloadLocation"] == "NOASSERTION"
            assert (purl.type, purl.name, purl.version) == (
                "pypi",
                source.pypi_project,
                source.version,
            )
            assert purl.qualifiers == {
                "checksum": f"sha256:{source.sha256}",
                "file_name": source.pypi_file,
            }
        else:
            # Debian's bytes: upstream's URL would pair the checksum with other bytes.
            assert package["downloadLocation"] == "NOASSERTION"
            assert purl.type == "deb" and purl.namespace == "debian"
            assert purl.qualifiers["checksum"] == f"sha256:{source.sha256}"
            assert source.debian_file.startswith(f"{purl.name}_{purl.version}")
        assert purl.to_string() == refs["purl"]  # canonical form
        if source.cpe:
            assert refs["cpe23Type"] == cpe23("a", source.cpe, source.version)
        else:
            assert "cpe23Type" not in refs
    # Exactly what went in: 3.13 builds no zstd.
    assert "SPDXRef-zstd" not in packages


def test_spdx_relationships(spdx):
    relations = {
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
        for r in spdx["relationships"]
    }
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-cpython") in relations
    for step in _bundled():
        if step.name == "ziglang":  # glibc 2.17's headers and stubs: compiled against, not in
            assert ("SPDXRef-ziglang", "BUILD_DEPENDENCY_OF", "SPDXRef-cpython") in relations
            assert ("SPDXRef-cpython", "STATIC_LINK", "SPDXRef-ziglang") not in relations
            continue
        assert ("SPDXRef-cpython", "STATIC_LINK", f"SPDXRef-{step.name}") in relations
    assert ("SPDXRef-libedit", "DEPENDS_ON", "SPDXRef-ncurses") in relations
    assert ("SPDXRef-deb-build-clang-19", "BUILD_TOOL_OF", "SPDXRef-cpython") in relations
    assert ("SPDXRef-deb-sysroot-libc6-dev", "BUILD_DEPENDENCY_OF", "SPDXRef-cpython") in relations
    assert ("SPDXRef-os-build-bookworm", "CONTAINS", "SPDXRef-deb-build-clang-19") in relations


def test_toolchain_versions_come_from_the_records(spdx):
    packages = {p["SPDXID"]: p for p in spdx["packages"]}
    clang = packages["SPDXRef-deb-build-clang-19"]
    assert clang["versionInfo"] == LLVM
    purl = clang["externalRefs"][0]["referenceLocator"]
    assert purl == "pkg:deb/debian/clang-19@1:19.1.7-3~deb12u1?arch=amd64&distro=bookworm"
    assert PackageURL.from_string(purl).to_string() == purl
    assert packages["SPDXRef-deb-sysroot-libc6"]["versionInfo"] == "2.31-13+deb11u11"
    # What the recipes ask for (and glibc), not every package of the images.
    assert "SPDXRef-deb-build-base-files" not in packages
    assert "SPDXRef-deb-sysroot-gcc-10-base" not in packages
    bullseye = packages["SPDXRef-os-sysroot-bullseye"]
    assert bullseye["primaryPackagePurpose"] == "OPERATING_SYSTEM"
    assert bullseye["externalRefs"][0]["referenceLocator"].startswith(
        "cpe:2.3:o:debian:debian_linux:11:"
    )


def test_cyclonedx_contents(cyclonedx):
    assert cyclonedx["metadata"]["component"]["bom-ref"] == "cpython"
    assert cyclonedx["metadata"]["timestamp"] == "2025-11-21T04:40:00Z"
    libraries = {c["bom-ref"]: c for c in cyclonedx["components"]}
    assert sorted(libraries) == sorted(step.name for step in _bundled())
    registry = load_registry()
    for name, component in libraries.items():
        source = registry[name]
        assert component["version"] == source.version
        assert component["hashes"] == [{"alg": "SHA-256", "content": source.sha256}]
        if source.upstream_serves_pinned_bytes:
            assert component["purl"].startswith(f"pkg:generic/{name}@")
            assert component["externalReferences"][0]["url"] == source.url
        elif source.is_wheel:
            assert component["purl"].startswith(f"pkg:pypi/{source.pypi_project}@")
            assert "externalReferences" not in component
        else:
            assert component["purl"].startswith("pkg:deb/debian/")
            assert "externalReferences" not in component
        assert component["licenses"]
    dependencies = {d["ref"]: d["dependsOn"] for d in cyclonedx["dependencies"]}
    # What it runs with; the glibc stubs' source was only built against (a component still).
    assert dependencies["cpython"] == sorted(set(libraries) - {"ziglang"})
    assert dependencies["libedit"] == ["ncurses"]
    # The tool chain is how the distribution was made: formulation, grouped by image.
    systems = cyclonedx["formulation"][0]["components"]
    assert [s["bom-ref"] for s in systems] == ["os-build-bookworm", "os-sysroot-bullseye"]
    nested = {c["name"]: c for c in systems[0]["components"]}
    assert nested["clang-19"]["version"] == LLVM


def test_output_is_deterministic_and_ids_follow_content():
    first, again = _sboms(), _sboms()
    assert first == again
    later = _sboms(plan=_plan(epoch=1_800_000_000))
    spdx_ids = {json.loads(d["spdx"])["documentNamespace"] for d in (first, later)}
    serials = {json.loads(d["cyclonedx"])["serialNumber"] for d in (first, later)}
    assert len(spdx_ids) == 2 and len(serials) == 2
    assert json.loads(first["spdx"])["creationInfo"]["created"] == "2025-11-21T04:40:00Z"


def test_unrecorded_images_give_packages_without_versions(tmp_path):
    sboms = _sboms(images=_images(recorded=False))
    spdx_path = tmp_path / "unrecorded.spdx.json"
    spdx_path.write_bytes(sboms["spdx"])
    assert spdx_problems(spdx_path) == []
    assert cyclonedx_problems(sboms["cyclonedx"].decode()) == []
    packages = {p["SPDXID"]: p for p in json.loads(sboms["spdx"])["packages"]}
    libc = packages["SPDXRef-deb-sysroot-libc6-dev"]
    assert "versionInfo" not in libc
    assert libc["externalRefs"][0]["referenceLocator"] == "pkg:deb/debian/libc6-dev?distro=bullseye"


def test_no_images_still_valid(tmp_path):
    sboms = _sboms(images=[])
    spdx_path = tmp_path / "bare.spdx.json"
    spdx_path.write_bytes(sboms["spdx"])
    assert spdx_problems(spdx_path) == []
    assert cyclonedx_problems(sboms["cyclonedx"].decode()) == []
    assert "formulation" not in json.loads(sboms["cyclonedx"])


def test_multi_license_components_use_an_expression(tmp_path):
    images = _images()
    cyclonedx = json.loads(_sboms(images=images)["cyclonedx"])
    assert cyclonedx["metadata"]["component"]["licenses"] == [
        {"expression": "Python-2.0 AND CNRI-Python"}
    ]


def test_cpe_quotes_special_characters():
    assert cpe23("a", "gnu:ncurses", "6.6-20260608") == (
        "cpe:2.3:a:gnu:ncurses:6.6-20260608:*:*:*:*:*:*:*"
    )
    assert cpe23("a", "x:y", "1.0+dfsg") == "cpe:2.3:a:x:y:1.0\\+dfsg:*:*:*:*:*:*:*"


# ---------------------------------------------------------------------------------------------
# Image package records

DPKG_STATUS = """\
Package: libc6-dev
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 2.31-13+deb11u11
Description: GNU C Library: Development Libraries and Header Files
 Contains the symlinks, headers, and object files needed to compile

Package: old-thing
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.31-13+deb11u11
"""


def test_dpkg_status_gives_installed_packages_only():
    assert parse_dpkg_status(DPKG_STATUS) == (
        DebianPackage("libc6", "2.31-13+deb11u11", "amd64"),
        DebianPackage("libc6-dev", "2.31-13+deb11u11", "amd64"),
    )


def test_records_round_trip(tmp_path):
    tag = "standalone-python/sysroot-bullseye:fedcba9876543210"
    assert read_record(tmp_path, tag) == ()
    path = write_record(tmp_path, tag, tuple(reversed(SYSROOT_INSTALLED)))
    assert path.name == "sysroot-bullseye-fedcba9876543210.tsv"
    assert read_record(tmp_path, tag) == SYSROOT_INSTALLED
    assert path.read_text() == format_package_list(SYSROOT_INSTALLED)
    assert parse_package_list(path.read_text()) == SYSROOT_INSTALLED


def test_image_packages_text_lists_recorded_and_requested():
    recorded, unrecorded = _images()[1], replace(_images()[1], installed=())
    text = image_packages_text([recorded])
    assert "sysroot\tlibc6-dev\t2.31-13+deb11u11\tamd64\n" in text
    text = image_packages_text([unrecorded])
    assert "not recorded" in text and "sysroot\tlibc6-dev\t-\t-\n" in text
