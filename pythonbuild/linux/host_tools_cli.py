"""``python -m pythonbuild host-tools [--install] [COMMAND ...]``: the host programs the build and
its tests run (resources/host-tools.yml), where each is, and with ``--install`` (root) the
missing ones installed from Debian."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass

from ..errors import ArgumentParser, BuildError, run_command
from ..paths import ROOT
from .host_tools import HostTool, ensure_host_tool, host_tool, host_tools

LOG_DIR = ROOT / "build" / "logs" / "host-tools"


@dataclass(frozen=True)
class HostToolsConfig:
    commands: tuple[str, ...]
    install: bool


def parse_args(argv: list[str]) -> HostToolsConfig:
    parser = ArgumentParser(
        prog="python -m pythonbuild host-tools",
        description=(
            "List the programs the build and its tests run on this machine, the Debian package "
            "of each and where it is found; exit 1 if any is missing. --install (as root) "
            "installs the missing ones with apt-get."
        ),
    )
    parser.add_argument(
        "commands", nargs="*", metavar="COMMAND", help="only these (default: every listed tool)"
    )
    parser.add_argument(
        "--install", action="store_true", help="install missing tools with apt-get (root)"
    )
    args = parser.parse_args(argv)
    return HostToolsConfig(tuple(args.commands), args.install)


def _locate(tool: HostTool, install: bool) -> str | None:
    found = shutil.which(tool.command)
    if found is None and install:
        found = ensure_host_tool(tool.command, LOG_DIR / f"apt-{tool.package}.log")
    return found


def run(config: HostToolsConfig) -> int:
    tools = [host_tool(c) for c in config.commands] or list(host_tools().values())
    missing = []
    for tool in tools:
        found = _locate(tool, config.install)
        if found is None:
            missing.append(tool)
        print(f"{tool.command:20} {tool.package:17} {found or 'missing':22} {tool.used_by}")
    if missing:
        packages = " ".join(sorted({tool.package for tool in missing}))
        raise BuildError(
            f"missing: {', '.join(tool.command for tool in missing)}; install them "
            f"(apt-get install {packages}, or this command with --install as root)"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "python -m pythonbuild host-tools", sys.argv[1:] if argv is None else argv, parse_args, run
    )
