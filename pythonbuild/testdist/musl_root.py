"""Container systems with no glibc at all, for musl distributions (no Alpine mirror is reachable).

``musl``: musl's loader and ``libc.so`` (the musl the distribution was linked against, from the
build's own musl step), a statically linked busybox for ``/bin/sh`` and the usual commands, and
CA certificates; ``musl-newest``: the same with the newest musl this project pins (the +static
flavor's), which a dynamic distribution must run on too. ``scratch``: nothing at all but an
empty ``/tmp``, where only a +static distribution can start. busybox and the certificates come
from a Debian minbase system of the target's architecture with ``busybox-static`` and
``ca-certificates`` added (made once, kept in the cache like the other runtime systems), and
so do ``/etc/services`` and ``/etc/protocols`` (``netbase``) and the terminal descriptions
(Debian's ``ncurses-base``, in minbase), which go where Alpine's ``ncurses-terminfo-base``
puts them: ``/etc/terminfo``, one of the places our ncurses reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .. import log
from ..errors import BuildError, UsageError
from ..linux.engine import Engine
from ..linux.images.build import (
    IMAGE_PREFIX,
    RootfsSpec,
    image_exists,
    remove_image,
    runtime_rootfs_dir,
)
from ..options import BuildOptions
from ..paths import default_cache_dir
from ..targets import Target
from ..validate.data import elf_loader
from .musl_runtime import LDD, extract_libc, musl_artifact

MUSL_SYSTEMS = ("musl", "musl-newest", "scratch")
RECIPE = 3  # bump when what goes into a root changes
HELPER_PACKAGES = ("busybox-static", "ca-certificates", "netbase")
# Service and protocol names for getservbyname() and getaddrinfo() (netbase; Alpine's are in
# alpine-baselayout-data).
NETWORK_FILES = ("etc/services", "etc/protocols")
HELPER_SUITE = "bookworm"
# Alpine's names for the bundle (OpenSSL's default file under /etc/ssl, and Debian's).
CERT_PATHS = ("etc/ssl/cert.pem", "etc/ssl/certs/ca-certificates.crt")
# Where a Debian system keeps ncurses-base's entries (/lib is /usr/lib on a merged-/usr system).
HELPER_TERMINFO = ("usr/lib/terminfo", "lib/terminfo")
ROOT_TERMINFO = "etc/terminfo"
# Names of glibc's files: none may be in a musl root.
GLIBC_NAMES = ("libc.so.6", "ld-linux", "libm.so.6", "libpthread.so.0")


@dataclass(frozen=True)
class MuslRoot:
    system: str  # one of MUSL_SYSTEMS
    libc_package: str | None  # the registry package whose libc.so it holds; None: scratch
    arch: str  # the CPU part of the target's triple (x86_64, aarch64)
    debian_arch: str

    @property
    def loader(self) -> str:
        """Where the root holds musl's loader (relative): the path its programs name."""
        path = elf_loader(self.arch, "musl")
        if path is None:
            raise BuildError(
                f"resources/validate/elf-machines.yml names no musl loader for {self.arch}"
            )
        return path.lstrip("/")


def musl_helper_spec(debian_arch: str) -> RootfsSpec:
    """The Debian system a musl root takes busybox and the CA certificates from."""
    return RootfsSpec(HELPER_SUITE, include=HELPER_PACKAGES, arch=debian_arch)


def musl_root_for(system: str, target: Target, options: BuildOptions) -> MuslRoot:
    """What ``--in-container system`` means for a distribution of ``target`` and ``options``,
    or a one-line UsageError when it cannot run there."""
    if target.libc != "musl":
        raise UsageError(
            f"--in-container {system}: a {target.triple} distribution needs glibc; "
            "give a Debian suite such as bookworm"
        )
    arch = target.gnu_triple.split("-")[0]
    if system == "scratch":
        if not options.static:
            raise UsageError(
                f"--in-container scratch: a {options.name} distribution needs musl's loader, "
                "which scratch does not have; give --in-container musl (or a +static archive)"
            )
        return MuslRoot(system, None, arch, target.debian_arch)
    package = target.static_libc if system == "musl-newest" else target.libc_package(options)
    if package is None:
        raise UsageError(f"--in-container {system}: {target.triple} pins no such musl")
    return MuslRoot(system, package, arch, target.debian_arch)


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, *, mode: int = 0o644,
         link: str | None = None) -> None:  # fmt: skip
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid = 0, 0, 0
    if link is not None:
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, link, 0o777
        tar.addfile(info)
    elif data is None:
        info.type, info.mode = tarfile.DIRTYPE, mode
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))


def _applets(busybox: Path) -> list[str]:
    """The commands this busybox provides (it runs here: static, and another CPU's under the
    qemu-user that binfmt_misc has registered)."""
    result = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        raise BuildError(f"{busybox} --list failed ({result.returncode}): {result.stderr.strip()}")
    return sorted(set(result.stdout.split()) - {"busybox"})


def _terminfo_entries(helper: Path) -> list[tuple[str, bytes | None]]:
    """The helper system's compiled terminal descriptions (``x/xterm``, ...), each directory
    (data None) before its files. An entry that is a link to another is stored as a copy, so
    that no link in the root can lead outside it."""
    for place in HELPER_TERMINFO:
        top = helper / place
        if top.is_dir() and not top.is_symlink():
            break
    else:
        raise BuildError(f"{helper} has no terminfo directory ({' or '.join(HELPER_TERMINFO)})")
    entries: list[tuple[str, bytes | None]] = []
    for letter in sorted(p for p in top.iterdir() if p.is_dir() and not p.is_symlink()):
        entries.append((letter.name, None))
        for entry in sorted(letter.iterdir()):
            target = entry.resolve() if entry.is_symlink() else entry
            if target.is_relative_to(helper) and target.is_file():
                entries.append((f"{letter.name}/{entry.name}", target.read_bytes()))
    return entries


def root_tar(root: MuslRoot, libc: bytes | None, helper: Path | None) -> bytes:
    """The whole system as a tar (sorted, owned by root, mtime 0)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "tmp", mode=0o1777)
        if libc is None or helper is None:  # scratch: nothing else
            return out.getvalue()
        for directory in ("bin", "dev", "etc", "etc/ssl", "etc/ssl/certs", "lib", "proc",
                          "root", "sys", "usr", "usr/bin"):  # fmt: skip
            _add(tar, directory, mode=0o700 if directory == "root" else 0o755)
        _add(tar, "bin/busybox", (helper / "bin" / "busybox").read_bytes(), mode=0o755)
        for applet in _applets(helper / "bin" / "busybox"):
            _add(tar, f"bin/{applet}", link="busybox")
        bundle = (helper / "etc" / "ssl" / "certs" / "ca-certificates.crt").read_bytes()
        for path in CERT_PATHS:
            _add(tar, path, bundle)
        _add(tar, ROOT_TERMINFO)
        for name, data in _terminfo_entries(helper):
            _add(tar, f"{ROOT_TERMINFO}/{name}", data)
        for path in NETWORK_FILES:
            _add(tar, path, (helper / path).read_bytes())
        _add(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        _add(tar, "etc/group", b"root:x:0:root\n")
        # As on Alpine: the loader is libc.so itself, and libc.musl-ARCH.so.1 names it too.
        _add(tar, root.loader, libc, mode=0o755)
        _add(tar, f"lib/libc.musl-{root.arch}.so.1", link=Path(root.loader).name)
        # musl's loader started as "ldd" lists a program's libraries (Alpine's musl-utils has
        # this ldd); CPython's tests ask it whether they run on musl (linked_to_musl).
        _add(tar, LDD.lstrip("/"), link="/" + root.loader)
    return out.getvalue()


def check_no_glibc(data: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        found = [m.name for m in tar.getmembers() if any(n in m.name for n in GLIBC_NAMES)]
    if found:
        raise BuildError(f"the musl test system would hold glibc files ({', '.join(found[:3])})")


def _tag(root: MuslRoot, artifact: Path | None) -> str:
    data = {
        "recipe": RECIPE,
        "system": root.system,
        "libc": artifact.name if artifact else None,
        "helper": musl_helper_spec(root.debian_arch).tag if artifact else None,
    }
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    suffix = f"-{root.debian_arch}" if root.debian_arch != "amd64" else ""
    return f"{IMAGE_PREFIX}/{root.system}-root{suffix}:{digest}"


def ensure_musl_root_image(
    engine: Engine,
    root: MuslRoot,
    target: Target,
    work: Path,
    logs: Path,
    recorded: str | None = None,
) -> str:
    """Make (or find) the image of ``root``; returns its tag. ``recorded``: the musl step
    artifact to take (a full archive's build record names it)."""
    cache_dir = default_cache_dir()
    artifact = (
        musl_artifact(target, root.libc_package, cache_dir, recorded) if root.libc_package else None
    )
    tag = _tag(root, artifact)
    if image_exists(engine, tag):
        return tag
    libc = helper = None
    if artifact is not None and root.libc_package is not None:
        libc = extract_libc(artifact, "musl", work / f"{root.system}-libc.so").read_bytes()
        helper = runtime_rootfs_dir(musl_helper_spec(root.debian_arch), cache_dir, logs)
    with log.step(f"make the {root.system} test system ({tag})"):
        data = root_tar(root, libc, helper)
        check_no_glibc(data)
        try:
            engine.client.api.import_image_from_data(data, repository=tag)
        except Exception:
            remove_image(engine, tag)
            raise
    log.info(
        f"  {root.system}: {len(data) / 1e6:.1f} MB, musl from {artifact.name if artifact else '-'}"
    )
    return tag
