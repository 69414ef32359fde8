"""The SBOM model as an SPDX 2.3 JSON document."""

from __future__ import annotations

import re

from .model import TOOL_NAME, BillOfMaterials, Component, content_uuid, iso_time

SPDX_VERSION = "SPDX-2.3"
NOASSERTION = "NOASSERTION"
PURPOSES = {
    "application": "APPLICATION",
    "library": "LIBRARY",
    "build-tool": "APPLICATION",
    "operating-system": "OPERATING_SYSTEM",  # the JSON schema spells it so
}


def spdx_id(ref: str) -> str:
    # SPDX ids allow letters, digits, "." and "-" only.
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.-]", "-", ref)


def _package(component: Component) -> dict:
    package: dict = {
        "SPDXID": spdx_id(component.ref),
        "name": component.name,
        "description": component.description,
        "primaryPackagePurpose": PURPOSES[component.kind],
        "downloadLocation": component.download_url or NOASSERTION,
        "filesAnalyzed": False,
        # The registry's licenses are the project's reading of each license file: concluded
        # and declared alike.  Debian packages' licenses are not recorded.
        "licenseConcluded": component.license_expression or NOASSERTION,
        "licenseDeclared": component.license_expression or NOASSERTION,
        "copyrightText": NOASSERTION,
    }
    if component.version:
        package["versionInfo"] = component.version
    if component.file_name:
        package["packageFileName"] = component.file_name
    if component.sha256:
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": component.sha256}]
    if component.supplier:
        package["supplier"] = f"Organization: {component.supplier}"
    if component.properties:
        package["comment"] = "; ".join(f"{key}={value}" for key, value in component.properties)
    references = []
    if component.purl:
        references.append(("PACKAGE-MANAGER", "purl", component.purl))
    if component.cpe:
        references.append(("SECURITY", "cpe23Type", component.cpe))
    if references:
        package["externalRefs"] = [
            {"referenceCategory": category, "referenceType": kind, "referenceLocator": locator}
            for category, kind, locator in references
        ]
    return package


def spdx_document(bom: BillOfMaterials) -> dict:
    components = (bom.subject, *bom.components, *bom.toolchain)
    relationships = [("SPDXRef-DOCUMENT", "DESCRIBES", spdx_id(bom.subject.ref))]
    relationships += [(spdx_id(r.source), r.kind, spdx_id(r.target)) for r in bom.relations]
    document = {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": bom.name,
        "creationInfo": {
            "created": iso_time(bom.timestamp),
            "creators": [f"Tool: {TOOL_NAME}-{bom.tool_version}"],
        },
        "packages": sorted((_package(c) for c in components), key=lambda p: p["SPDXID"]),
        "relationships": [
            {"spdxElementId": source, "relationshipType": kind, "relatedSpdxElement": target}
            for source, kind, target in sorted(relationships)
        ],
    }
    # Unique per content, the same for equal content: a URN names it without claiming a host.
    document["documentNamespace"] = f"urn:uuid:{content_uuid(document)}"
    return document
