"""Rules on PYTHON.json: schema, the paths it names, the extension module set, licenses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache

import jsonschema

from ..distribution.metadata import LICENSES_DIR, SCHEMA_PATH, license_file_name, referenced_paths
from ..linux.plan import extension_modules_for, modules_left_out
from ..options import BuildOptions
from ..registry import load_registry
from .data import stdlib_extension_modules
from .findings import Distribution, Finding, examples

DOCUMENT = "PYTHON.json"


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def check(dist: Distribution) -> list[Finding]:
    findings = list(_schema(dist))
    if findings:
        # The other rules read the document's structure; with a broken one they would only
        # repeat the schema findings, or fail.
        return findings
    return [
        *_layout(dist),
        *_platform_tag(dist),
        *_paths(dist),
        *_extension_modules(dist),
        *_licenses(dist),
    ]


def _schema(dist: Distribution) -> Iterator[Finding]:
    errors = sorted(_schema_validator().iter_errors(dist.doc), key=lambda e: list(e.path))
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = " ".join(error.message.split())
        message = message if len(message) <= 160 else message[:160] + "..."
        yield Finding(
            dist.member(DOCUMENT),
            "schema",
            f"{where}: {message}",
            "a document valid against python-json-v8.schema.json",
        )


def _layout(dist: Distribution) -> Iterator[Finding]:
    # PBS consumers read the document before anything else, so it must come first.
    expected = dist.member(DOCUMENT)
    if dist.first_member != expected:
        yield Finding(
            dist.first_member, "layout", "the archive's first member", f"{expected} first"
        )


def _platform_tag(dist: Distribution) -> Iterator[Finding]:
    # What sysconfig.get_platform() says on the target; a cross build's interpreter runs on the
    # build machine and would name that machine's instead.
    found = dist.doc.get("python_platform_tag")
    if found != dist.target.platform_tag:
        yield Finding(
            dist.member(DOCUMENT),
            "platform-tag",
            f"python_platform_tag {found!r}",
            f"{dist.target.platform_tag!r}, sysconfig.get_platform() on {dist.target.triple}",
        )


def _paths(dist: Distribution) -> Iterator[Finding]:
    for path in referenced_paths(dist.doc):
        target = dist.doc_path(path)
        # lexists: a symlink the document names is judged by the symlink rule.
        if not (target.exists() or target.is_symlink()):
            yield Finding(
                dist.member(path),
                "document-paths",
                "named by PYTHON.json but missing",
                "every path PYTHON.json names present in the archive",
            )


def expected_extension_modules(python: str, options: BuildOptions | None = None) -> set[str]:
    """What CPython ``python`` builds on Linux, less what extension-modules.yml disables (and,
    for +static builds, the shared test-support modules)."""
    return stdlib_extension_modules(python) - modules_left_out(python, options or BuildOptions())


def _extension_modules(dist: Distribution) -> Iterator[Finding]:
    python = dist.doc["python_major_minor_version"]
    expected = expected_extension_modules(python, dist.options)
    listed = set(dist.doc["build_info"]["extensions"])
    allowed = (
        f"the {len(expected)} modules of Python {python} (stdlib-extension-modules.yml less "
        "extension-modules.yml's disabled ones"
        + (", and its shared ones for +static builds)" if dist.options.static else ")")
    )
    if expected - listed:
        yield Finding(
            dist.member(DOCUMENT),
            "extension-modules",
            f"missing modules {examples(expected - listed, 10)}",
            allowed,
        )
    if listed - expected:
        yield Finding(
            dist.member(DOCUMENT),
            "extension-modules",
            f"unexpected modules {examples(listed - expected, 10)}",
            allowed,
        )


def _licenses(dist: Distribution) -> Iterator[Finding]:
    """Each bundled library's license text ships, and each module names its libraries'."""
    registry = load_registry()
    python = dist.doc["python_major_minor_version"]
    first = dist.target.sysroot_package(dist.options)
    bundled = registry.build_order(dist.target.packages_for(python), first)
    for name in bundled:
        path = f"{LICENSES_DIR}/{license_file_name(registry[name])}"
        file = dist.doc_path(path)
        if not file.is_file() or file.is_symlink() or file.stat().st_size == 0:
            yield Finding(
                dist.member(path),
                "licenses",
                f"no license text for bundled library {name}",
                "a non-empty license file for every bundled library",
            )
    extensions = dist.doc["build_info"]["extensions"]
    for module, entry in sorted(extension_modules_for(python).items()):
        libraries = entry.get("libraries") or []
        if "disabled" in entry or module not in extensions or not libraries:
            continue
        wanted = {f"{LICENSES_DIR}/{license_file_name(registry[lib])}" for lib in libraries}
        for variant in extensions[module]:
            missing = wanted - set(variant.get("license_paths") or [])
            if missing:
                yield Finding(
                    dist.member(DOCUMENT),
                    "licenses",
                    f"extension {module} lists license_paths without {examples(missing)}",
                    f"the licenses of {', '.join(libraries)} (extension-modules.yml)",
                )
