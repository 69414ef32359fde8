"""The programs the build and its tests run on the host, in one list (resources/host-tools.yml):
each with the Debian package that provides it, installed with apt-get as root when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from .. import log
from ..errors import BuildError
from ..paths import RESOURCES

HOST_TOOLS_FILE = RESOURCES / "host-tools.yml"


@dataclass(frozen=True)
class HostTool:
    command: str
    package: str  # Debian's
    used_by: str

    def needs(self) -> str:
        """``needs objdump (Debian package binutils)``: how a message names the tool."""
        return f"needs {self.command} (Debian package {self.package})"


@cache
def host_tools() -> dict[str, HostTool]:
    data = yaml.safe_load(HOST_TOOLS_FILE.read_text())
    return {
        command: HostTool(command, entry["package"], entry["used_by"])
        for command, entry in data["tools"].items()
    }


def host_tool(command: str) -> HostTool:
    try:
        return host_tools()[command]
    except KeyError:
        raise BuildError(
            f"{command} is not in {HOST_TOOLS_FILE.name}; add it with its Debian package"
        ) from None


def ensure_host_tool(command: str, logfile: Path) -> str:
    """Path of ``command``, installing its Debian package with apt-get (as root) when it is
    missing; a BuildError that names the package otherwise."""
    tool = host_tool(command)
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() != 0:
        raise BuildError(
            f"{command} is missing; install it (apt-get install {tool.package}) and rerun"
        )
    if shutil.which("apt-get") is None:
        raise BuildError(
            f"{command} is missing and this machine has no apt-get to install Debian's "
            f"{tool.package}; install {command} and rerun"
        )
    log.info(f"no {command} on this machine: installing Debian's {tool.package} (apt-get)")
    logfile.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", tool.package]
    with logfile.open("w") as out:
        for cmd in (["apt-get", "update"], install):
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
            if result.returncode != 0:
                raise log.LoggedFailure(
                    f"installing {tool.package} failed ({' '.join(cmd)})", logfile
                )
    found = shutil.which(command)
    if not found:
        raise BuildError(
            f"{tool.package} was installed but {command} is not on PATH; check /usr/sbin"
        )
    return found
