"""Running another CPU's programs on this machine: Debian's qemu-user-static and binfmt_misc.

The kernel hands an ELF file of a registered foreign machine type to its qemu-user interpreter.
Debian's entries (``/usr/lib/binfmt.d/qemu-<arch>.conf``) carry the ``F`` flag: the kernel
opens the interpreter when the entry is registered, so programs inside containers and chroots,
which do not have ``/usr/libexec/qemu-binfmt``, run too. That is how a foreign target's rootfs
is debootstrapped and how ``test-dist`` runs its archives.

Registration is a kernel setting, shared by the whole machine; it is made once and kept.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .. import log
from ..errors import BuildError
from .host_tools import ensure_host_tool, host_tool

BINFMT_MISC = Path("/proc/sys/fs/binfmt_misc")
BINFMT_CONFS = Path("/usr/lib/binfmt.d")


def emulator_command(emulator: str) -> str:
    """The qemu-user program for ``emulator`` (qemu's name of the CPU: aarch64, arm, ...)."""
    return f"qemu-{emulator}-static"


def registered_flags(emulator: str, binfmt: Path = BINFMT_MISC) -> str | None:
    """The flags of the enabled binfmt_misc entry of ``qemu-<emulator>``; None: no such entry."""
    entry = binfmt / f"qemu-{emulator}"
    try:
        text = entry.read_text()
    except OSError:
        return None
    lines = text.splitlines()
    if not lines or lines[0] != "enabled":
        return None
    for line in lines:
        if line.startswith("flags:"):
            return line.partition(":")[2].strip()
    return ""


def ensure_emulation(emulator: str, logs: Path, binfmt: Path = BINFMT_MISC) -> None:
    """Make this machine run ``emulator``'s programs transparently (in containers too).

    Installs qemu-user-static, mounts binfmt_misc and registers Debian's entry when they are
    missing (as root); otherwise raises a BuildError that says what to do.
    """
    flags = registered_flags(emulator, binfmt)
    if flags is not None:
        if "F" not in flags:
            raise BuildError(
                f"qemu-{emulator} is registered with binfmt_misc without the F flag, so programs "
                f"in containers cannot find it; re-register it with F "
                f"(echo -1 > {binfmt}/qemu-{emulator}, then rerun as root)"
            )
        return
    package = host_tool(emulator_command(emulator)).package
    if os.geteuid() != 0:
        raise BuildError(
            f"this machine cannot run {emulator} programs (no qemu-{emulator} in {binfmt}); "
            f"as root: apt-get install {package}, then rerun (it registers the emulator)"
        )
    ensure_host_tool(emulator_command(emulator), logs / "apt-qemu.log")
    conf = BINFMT_CONFS / f"qemu-{emulator}.conf"
    if not conf.is_file():
        raise BuildError(
            f"{package} has no {conf}, so {emulator} programs cannot be registered to run "
            f"here; this target's programs cannot run on this machine"
        )
    if not (binfmt / "register").exists():
        result = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise BuildError(
                f"cannot mount binfmt_misc on {binfmt} ({result.stderr.strip()}); a container "
                "without that privilege cannot emulate other CPUs: run on the host"
            )
    entry = next(line for line in conf.read_text().splitlines() if line.startswith(":"))
    try:
        (binfmt / "register").write_text(entry)
    except OSError as exc:
        raise BuildError(
            f"registering qemu-{emulator} with binfmt_misc failed ({exc}); run as root on the host"
        ) from None
    log.info(f"registered qemu-{emulator} with binfmt_misc: {emulator} programs run here")
