"""The SBOM model both formats are written from (see ``builder``)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

TOOL_NAME = "standalone-python"
# The namespace of the content-derived document UUIDs (uuid5); any fixed value would do.
DOCUMENT_UUID_NAMESPACE = uuid.UUID("6f1b8f0e-3a52-4d0c-9c57-2d1f6a9e4b17")


@dataclass(frozen=True)
class Component:
    ref: str  # unique in the document and the same in every build
    name: str
    version: str  # empty: not known
    kind: str  # "application", "library", "build-tool" or "operating-system"
    description: str
    licenses: tuple[str, ...] = ()  # SPDX ids, all of which apply; empty: not stated
    download_url: str = ""
    file_name: str = ""
    sha256: str = ""
    purl: str = ""
    cpe: str = ""
    supplier: str = ""
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def license_expression(self) -> str:
        return " AND ".join(self.licenses)


@dataclass(frozen=True)
class Relation:
    """``source`` <kind> ``target``, in SPDX 2.3's relationship vocabulary."""

    source: str
    kind: str  # STATIC_LINK, DEPENDS_ON, BUILD_TOOL_OF, BUILD_DEPENDENCY_OF or CONTAINS
    target: str


@dataclass(frozen=True)
class BillOfMaterials:
    name: str  # the full archive's name without .tar.zst
    timestamp: int  # SOURCE_DATE_EPOCH
    tool_version: str  # the release tag
    subject: Component  # CPython, as this distribution carries it
    components: tuple[Component, ...]  # the bundled libraries
    toolchain: tuple[Component, ...]  # images' Debian packages and operating systems
    relations: tuple[Relation, ...] = ()

    def component(self, ref: str) -> Component:
        return next(c for c in (self.subject, *self.components, *self.toolchain) if c.ref == ref)


def iso_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_uuid(document: Mapping) -> uuid.UUID:
    """A UUID that names ``document``'s content: equal documents, equal UUIDs."""
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    return uuid.uuid5(DOCUMENT_UUID_NAMESPACE, digest)
