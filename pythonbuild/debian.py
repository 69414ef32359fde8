"""Debian facts the build needs from the host: the archive mirror configured for apt."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from . import log
from .errors import BuildError


def debian_mirror_uri() -> str:
    """The first Debian archive URI from the host's apt configuration (never hard-coded)."""
    if override := os.environ.get("STANDALONE_PYTHON_DEBIAN_MIRROR"):
        return override
    from .fetch import debian_archive_uris  # the apt configuration parser lives with the mirrors

    uris = debian_archive_uris()
    if not uris:
        raise BuildError(
            "no Debian archive is configured for apt on this host (/etc/apt/sources.list*); "
            "add a deb line for a Debian mirror and rerun"
        )
    return uris[0]


def ensure_host_tool(command: str, package: str, logfile: Path) -> str:
    """Path of ``command``, installing Debian's ``package`` with apt (as root) when it is missing."""
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() != 0:
        raise BuildError(f"{command} is missing; install it (apt-get install {package}) and rerun")
    log.info(f"no {command} on this machine: installing Debian's {package} (apt-get)")
    logfile.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with logfile.open("w") as out:
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
            if result.returncode != 0:
                raise log.LoggedFailure(f"installing {package} failed ({' '.join(cmd)})", logfile)
    found = shutil.which(command)
    if not found:
        raise BuildError(f"{package} was installed but {command} is not on PATH; check /usr/sbin")
    return found
