"""Debian facts the build needs from the host: the archive mirror configured for apt."""

from __future__ import annotations

import os

from ..errors import BuildError


def debian_mirror_uri() -> str:
    """The first Debian archive URI from the host's apt configuration (never hard-coded)."""
    if override := os.environ.get("STANDALONE_PYTHON_DEBIAN_MIRROR"):
        return override
    from ..fetch import debian_archive_uris  # the apt configuration parser lives with the mirrors

    uris = debian_archive_uris()
    if not uris:
        raise BuildError(
            "no Debian archive is configured for apt on this host (/etc/apt/sources.list*); "
            "add a deb line for a Debian mirror and rerun"
        )
    return uris[0]
