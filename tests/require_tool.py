"""``require_tool("objdump")``: a host program a test runs, from pythonbuild/resources/host-tools.yml.

Present, its path is returned. Missing under ``CI=true`` as root, it is installed with apt-get
(pythonbuild.linux.host_tools.ensure_host_tool) and a failed install fails the test: on CI a
missing tool is the machine's or the mirror's problem, never a reason to pass. Otherwise the test is
skipped with the Debian package named (the skip policy, skip_policy.py, fails such a skip under
CI).
"""

from __future__ import annotations

import os
import shutil

import pytest
from skip_policy import under_ci

from pythonbuild.errors import BuildError
from pythonbuild.linux.host_tools import ensure_host_tool, host_tool
from pythonbuild.paths import ROOT

LOG_DIR = ROOT / "build" / "logs" / "host-tools"


def require_tool(command: str) -> str:
    tool = host_tool(command)
    found = shutil.which(command)
    if found:
        return found
    if under_ci() and os.geteuid() == 0:
        try:
            return ensure_host_tool(command, LOG_DIR / f"apt-{tool.package}.log")
        except (BuildError, OSError) as exc:
            last = str(exc).strip().splitlines()[-1].removeprefix("error: ")
            pytest.fail(f"{tool.needs()}, and installing it failed: {last}", pytrace=False)
    pytest.skip(
        f"{tool.needs()}: apt-get install {tool.package}, or run the tests as root with "
        "CI=true to have them install it"
    )
