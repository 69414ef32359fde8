"""Software bills of materials: one model of what went into a distribution, written as SPDX 2.3
and CycloneDX 1.6 JSON (docs/sbom.md).

``builder`` makes the model from the build's sources and its tool chain (``toolchain``);
``model`` is the model; ``spdx`` and ``cyclonedx`` write it out.  Platform-neutral: a driver
passes what it built with, so nothing here imports a platform wing.
"""
