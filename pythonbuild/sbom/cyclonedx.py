"""The SBOM model as a CycloneDX 1.6 JSON document.

The distribution is ``metadata.component``; the bundled libraries are ``components`` with their
links in ``dependencies``.  The tool chain did not go into the distribution, so it is the
``formulation`` (how it was made): each image's operating system with its packages nested in it.
"""

from __future__ import annotations

from .model import TOOL_NAME, BillOfMaterials, Component, content_uuid, iso_time

SPEC_VERSION = "1.6"
COMPONENT_TYPES = {
    "application": "application",
    "library": "library",
    "build-tool": "application",
    "operating-system": "operating-system",
}
RUNTIME_RELATIONS = ("STATIC_LINK", "DEPENDS_ON")


def _licenses(component: Component) -> list[dict]:
    if len(component.licenses) == 1:  # an id the schema checks against the SPDX list
        return [{"license": {"id": component.licenses[0]}}]
    return [{"expression": component.license_expression}]


def _component(component: Component, nested: list[dict] | None = None) -> dict:
    entry: dict = {
        "bom-ref": component.ref,
        "type": COMPONENT_TYPES[component.kind],
        "name": component.name,
        "description": component.description,
    }
    if component.version:
        entry["version"] = component.version
    if component.licenses:
        entry["licenses"] = _licenses(component)
    if component.sha256:
        hashes = [{"alg": "SHA-256", "content": component.sha256}]
        entry["hashes"] = hashes
        if component.download_url:
            entry["externalReferences"] = [
                {"type": "source-distribution", "url": component.download_url, "hashes": hashes}
            ]
    if component.purl:
        entry["purl"] = component.purl
    if component.cpe:
        entry["cpe"] = component.cpe
    if component.supplier:
        entry["supplier"] = {"name": component.supplier}
    if component.properties:
        entry["properties"] = [{"name": k, "value": v} for k, v in component.properties]
    if nested:
        entry["components"] = nested
    return entry


def cyclonedx_document(bom: BillOfMaterials) -> dict:
    contained: dict[str, list[str]] = {}
    depends: dict[str, list[str]] = {c.ref: [] for c in (bom.subject, *bom.components)}
    for relation in bom.relations:
        if relation.kind == "CONTAINS":
            contained.setdefault(relation.source, []).append(relation.target)
        elif relation.kind in RUNTIME_RELATIONS:
            depends[relation.source].append(relation.target)
    nested_refs = {ref for refs in contained.values() for ref in refs}
    formulation = [
        _component(c, [_component(bom.component(ref)) for ref in sorted(contained.get(c.ref, []))])
        for c in bom.toolchain
        if c.ref not in nested_refs
    ]
    document: dict = {
        "$schema": f"http://cyclonedx.org/schema/bom-{SPEC_VERSION}.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "timestamp": iso_time(bom.timestamp),
            "lifecycles": [{"phase": "build"}],
            "tools": {
                "components": [
                    {"type": "application", "name": TOOL_NAME, "version": bom.tool_version}
                ]
            },
            "component": _component(bom.subject),
            "properties": [{"name": "standalone-python:distribution", "value": bom.name}],
        },
        "components": [_component(c) for c in bom.components],
        "dependencies": [
            {"ref": ref, "dependsOn": sorted(targets)} for ref, targets in sorted(depends.items())
        ],
    }
    if formulation:
        document["formulation"] = [{"bom-ref": "formulation", "components": formulation}]
    document["serialNumber"] = f"urn:uuid:{content_uuid(document)}"
    return document
