"""Container images made without a registry.

* Base images: a Debian rootfs made by ``debootstrap`` from the host's configured mirror and
  ``docker import``-ed.  A sysroot image is the same, pruned to the headers, libraries and CRT
  objects a compiler needs to link against that suite's glibc.
* Build images: rendered from ``cpython-unix/<name>.Dockerfile.j2`` on top of a base image,
  with the requested packages pinned (``apt-get install pkg=version``).

Every image is tagged with the hash of its inputs (recipe, package list, template text, parent
image tag, and its section of ``cpython-unix/image-packages.lock``), so unchanged inputs find the
existing image and nothing is rebuilt.  A newly made image whose Debian packages differ from its
lock section is not kept (``lock``): a tag always stands for the same package versions.
Runtime systems for tests (``runtime_rootfs_spec``) of a suite the lock has no base section for
are not pinned.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import docker.errors
import jinja2

from ... import log
from ...errors import BuildError
from ...paths import UNIX_DIR
from ...sbom.toolchain import DebianPackage, ImagePackages
from ...targets import HOST_DEBIAN_ARCH, Target
from ..debian import debian_mirror_uri
from ..engine import Engine
from ..host_tools import ensure_host_tool
from .lock import (
    LOCK_PATH,
    ImageLock,
    Packages,
    check_packages,
    explain_apt_failure,
    format_section,
    lock_name,
    pinned_install_message,
    read_lock,
    refresh_hint,
)
from .packages import (
    list_image_packages,
    parse_dpkg_status,
    read_record,
    record_image_packages,
    record_path,
    write_record,
)

IMAGE_PREFIX = "standalone-python"
BASE_SUITE = "bookworm"
LLVM_VERSION = "19"
# Bumped when the way a rootfs is made changes, so old images are not reused.
ROOTFS_RECIPE = "debootstrap-minbase-v2"
# Below the cache directory: whole systems of other CPUs, one directory per image tag.
ROOTFS_DIR = "rootfs"

BUILD_PACKAGES = [
    f"clang-{LLVM_VERSION}",
    f"lld-{LLVM_VERSION}",
    f"llvm-{LLVM_VERSION}",
    f"libclang-rt-{LLVM_VERSION}-dev",
    f"bolt-{LLVM_VERSION}",  # llvm-bolt and merge-fdata for BOLT-optimized pgo builds
    f"libbolt-{LLVM_VERSION}-dev",  # libbolt_rt_instr.a, the runtime of BOLT-instrumented binaries
    "autoconf",
    "automake",
    "bison",
    "bzip2",
    "ca-certificates",
    "cmake",
    "file",
    "libltdl-dev",  # ltdl.m4, needed to autoreconf libffi
    "libtool",
    "make",
    "patch",
    "patchelf",
    "perl",
    "pkg-config",
    "python3",
    "xz-utils",
    "zstd",
]
# What the compiler needs from a sysroot: glibc's headers and libraries, the kernel headers,
# and GCC's CRT objects and libgcc (clang finds them under usr/lib/gcc).
SYSROOT_PACKAGES = {
    "bullseye": ["libc6-dev", "linux-libc-dev", "libgcc-10-dev"],
    "bookworm": ["libc6-dev", "linux-libc-dev", "libgcc-12-dev"],
    "trixie": ["libc6-dev", "linux-libc-dev", "libgcc-14-dev"],
}
SYSROOT_KEEP = ["usr/include", "usr/lib", "usr/lib64", "lib", "lib64"]


@dataclass(frozen=True)
class RootfsSpec:
    suite: str
    include: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()  # empty: the whole rootfs
    # The image's lock section: the packages it must hold. None: not pinned (nor checked).
    locked: Packages | None = field(default=None, repr=False)
    arch: str = HOST_DEBIAN_ARCH  # Debian architecture of its packages (default: the host's)

    @property
    def kind(self) -> str:
        return "sysroot" if self.keep else "base"

    @property
    def foreign(self) -> bool:
        return self.arch != HOST_DEBIAN_ARCH

    @property
    def name(self) -> str:
        """``base-bookworm``, ``sysroot-bullseye``; another architecture's: ``...-arm64``."""
        suffix = f"-{self.arch}" if self.foreign else ""
        return f"{self.kind}-{self.suite}{suffix}"

    @property
    def section(self) -> str:
        """Its section of the lock: ``base-bookworm``, ``sysroot-bullseye-arm64``."""
        return self.name

    def input_hash(self) -> str:
        data: dict[str, object] = {
            "recipe": ROOTFS_RECIPE,
            "suite": self.suite,
            "include": sorted(self.include),
            "keep": list(self.keep),
        }
        if self.foreign:  # (absent for the host's: the tags of existing images stay valid)
            data["arch"] = self.arch
        if self.locked is not None:
            data["lock"] = format_section(self.locked)
        return _short_hash(json.dumps(data, sort_keys=True))

    @property
    def tag(self) -> str:
        return f"{IMAGE_PREFIX}/{self.name}:{self.input_hash()}"


def runtime_rootfs_spec(
    suite: str, lock: ImageLock | None = None, arch: str = HOST_DEBIAN_ARCH
) -> RootfsSpec:
    """A plain ``--variant=minbase`` system of ``suite`` for running a distribution in.

    No compiler, no Python and nothing from the build image: what such a system lacks is what a
    distribution must not need. (It is the same spec, hence the same image, as a base image of
    that suite: pinned when the lock has a base section for it.)
    """
    if lock is None and LOCK_PATH.is_file():
        lock = read_lock()
    spec = RootfsSpec(suite, arch=arch)
    return replace(spec, locked=lock.section(spec.section) if lock else None)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def image_exists(engine: Engine, tag: str) -> bool:
    try:
        engine.client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def _debootstrap(spec: RootfsSpec, rootfs: Path, logfile: Path) -> Packages:
    """Make ``spec``'s rootfs in ``rootfs``; returns the packages it holds.

    A sysroot of another architecture is only unpacked (``--foreign``, then every downloaded
    package extracted): a compiler needs its files, and nothing of it has to run. A whole system
    of another architecture runs its packages' scripts under qemu-user (``emulation``).
    """
    debootstrap = ensure_host_tool("debootstrap", logfile.parent / "apt-debootstrap.log")
    cmd = [debootstrap, "--variant=minbase"]
    unpack_only = spec.foreign and bool(spec.keep)
    if spec.foreign:
        cmd.append(f"--arch={spec.arch}")
    if unpack_only:
        cmd.append("--foreign")
    if spec.include:
        cmd.append("--include=" + ",".join(spec.include))
    cmd += [spec.suite, str(rootfs), debian_mirror_uri()]
    what = f"debootstrap of {spec.suite} ({spec.arch})"
    with logfile.open("w") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise log.LoggedFailure(f"{what} failed", logfile)
    if unpack_only:
        return unpack_downloaded_packages(rootfs, logfile)
    status = rootfs / "var" / "lib" / "dpkg" / "status"
    return parse_dpkg_status(status.read_text(encoding="utf-8"))


def unpack_downloaded_packages(rootfs: Path, logfile: Path) -> Packages:
    """Extract every package a ``debootstrap --foreign`` downloaded into ``rootfs``; returns
    them as dpkg would list them installed (name, version, architecture)."""
    packages = []
    debpaths = (rootfs / "debootstrap" / "debpaths").read_text().split("\n")
    with logfile.open("a") as out:
        for line in filter(None, debpaths):
            _, path = line.split(" ", 1)
            deb = rootfs / path.lstrip("/")
            fields = subprocess.run(
                ["dpkg-deb", "--show", "--showformat=${Package} ${Version} ${Architecture}", deb],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            extract = subprocess.run(
                ["dpkg-deb", "--extract", deb, rootfs], stdout=out, stderr=out, check=False
            )
            if fields.returncode != 0 or extract.returncode != 0:
                out.write(fields.stderr)
                raise log.LoggedFailure(f"unpacking {deb.name} failed", logfile)
            name, version, arch = fields.stdout.split()
            packages.append(DebianPackage(name, version, arch))
    return tuple(sorted(packages))


@contextmanager
def bootstrapped_rootfs(
    spec: RootfsSpec, logs: Path, parent: Path | None = None
) -> Iterator[tuple[Path, Packages]]:
    """A fresh debootstrap of ``spec`` in a temporary directory, and the packages it holds.

    The list is read now or never: a sysroot keeps no dpkg database.
    """
    logfile = logs / f"rootfs-{spec.name}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with (
        log.step(f"debootstrap {spec.suite} ({spec.kind}{', ' + spec.arch if spec.foreign else ''})"),
        tempfile.TemporaryDirectory(prefix="sp-rootfs-", dir=parent) as tmp,
    ):
        rootfs = Path(tmp) / "rootfs"
        yield rootfs, _debootstrap(spec, rootfs, logfile)


def rootfs_dir_name(tag: str) -> str:
    """The directory name under ``<cache>/rootfs`` of the system whose image tag is ``tag``."""
    return tag.replace("/", "_").replace(":", "-")


def runtime_rootfs_path(spec: RootfsSpec, cache_dir: Path) -> Path:
    """Where ``runtime_rootfs_dir`` keeps ``spec``'s system (which may not exist yet)."""
    return cache_dir / ROOTFS_DIR / rootfs_dir_name(spec.tag)


def runtime_rootfs_dir(spec: RootfsSpec, cache_dir: Path, logs: Path) -> Path:
    """A directory holding ``spec``'s whole system, made once and kept in ``cache_dir``.

    For programs of another architecture run on this machine under qemu-user, whose loader and
    libraries it provides (``testdist.loader_namespace``). Made in a temporary directory beside
    it and renamed into place: a directory of that name is always complete.
    """
    final = runtime_rootfs_path(spec, cache_dir)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with bootstrapped_rootfs(spec, logs, parent=final.parent) as (rootfs, installed):
        if spec.locked is not None:
            check_packages(spec.tag, spec.section, spec.locked, installed, None)
        rootfs.rename(final)
    return final


def import_rootfs(engine: Engine, spec: RootfsSpec, rootfs: Path) -> None:
    """Prune (for a sysroot) and import ``rootfs`` as ``spec.tag``; a failed import is removed."""
    if spec.keep:
        _relativize_symlinks(rootfs)
    members = list(spec.keep) if spec.keep else ["."]
    members = [m for m in members if (rootfs / m).exists() or (rootfs / m).is_symlink()]
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "--numeric-owner", "-c", *members], stdout=subprocess.PIPE
    )
    assert tar.stdout is not None
    try:
        engine.client.api.import_image_from_stream(tar.stdout, repository=spec.tag)
    finally:
        tar.stdout.close()
        tar.wait()
    if tar.returncode != 0:
        remove_image(engine, spec.tag)  # the image of a truncated tar stream
        raise BuildError(f"packing the {spec.suite} rootfs failed (tar exit {tar.returncode})")


def remove_image(engine: Engine, tag: str) -> None:
    """Untag (and so delete) an image this process made; nothing when it does not exist."""
    with suppress(docker.errors.ImageNotFound):
        engine.client.images.remove(tag, noprune=False)


def ensure_rootfs_image(
    engine: Engine,
    spec: RootfsSpec,
    logs: Path,
    records: Path | None = None,
    triple: str | None = None,
) -> str:
    """Make (or find) the imported image for ``spec``; returns its tag.

    A new image whose packages differ from ``spec.locked`` is not imported (``ImageMismatch``,
    whose fix names ``triple``). With ``records`` (a directory), a new image's Debian packages
    are recorded there (``packages``); the tag does not change.
    """
    if image_exists(engine, spec.tag):
        return spec.tag
    with bootstrapped_rootfs(spec, logs) as (rootfs, installed):
        if spec.locked is not None:
            check_packages(spec.tag, spec.section, spec.locked, installed, triple)
        if records is not None:
            write_record(records, spec.tag, installed)
        import_rootfs(engine, spec, rootfs)
    return spec.tag


def _relativize_symlinks(rootfs: Path) -> None:
    """Point absolute symlinks inside ``rootfs`` at the same file relative to the link.

    A linker given ``--sysroot`` follows ``/lib64/ld-linux-x86-64.so.2 -> /lib/...`` in the
    build image's own root, not the sysroot's; relative links resolve inside the sysroot.
    """
    for dirpath, dirnames, filenames in os.walk(rootfs):
        for name in dirnames + filenames:
            link = Path(dirpath) / name
            if not link.is_symlink():
                continue
            target = os.readlink(link)
            if target.startswith("/"):
                relative = os.path.relpath(rootfs / target.lstrip("/"), link.parent)
                link.unlink()
                link.symlink_to(relative)


@dataclass(frozen=True)
class BuildImage:
    tag: str
    dockerfile: str


def render_build_dockerfile(
    target: Target, base_image: str, sysroot_image: str, pins: Mapping[str, str] | None = None
) -> str:
    """The build image's Dockerfile; with ``pins`` (package -> version), apt installs exactly
    those versions (``pkg=version``), else whatever the mirror has (only for ``lock-images``)."""
    template_path = UNIX_DIR / f"{target.image}.Dockerfile.j2"
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    template = env.from_string(template_path.read_text())
    names = sorted(BUILD_PACKAGES)
    return template.render(
        target=target,
        base_image=base_image,
        base_suite=BASE_SUITE,
        sysroot_image=sysroot_image,
        llvm_version=LLVM_VERSION,
        packages=[f"{n}={pins[n]}" for n in names] if pins is not None else names,
    )


def build_pins(target: Target, locked: Packages) -> dict[str, str]:
    """The locked version of every package the build image asks apt for."""
    versions = {p.name: p.version for p in locked}
    missing = [name for name in sorted(BUILD_PACKAGES) if name not in versions]
    if missing:
        raise BuildError(
            f"the build image asks for {', '.join(missing)}, which [{target.image}] of "
            f"{lock_name()} does not lock; {refresh_hint(target.triple)}"
        )
    return {name: versions[name] for name in BUILD_PACKAGES}


def build_image_name(target: Target) -> str:
    """``<prefix>/<image>-<GNU triple>-<sysroot suite>``: what the image holds, not the target.

    Targets that differ only in flags (x86_64 and its _vN levels) render the same Dockerfile and
    so share one image (about 1.3 GB each) instead of one copy per target.
    """
    return f"{IMAGE_PREFIX}/{target.image}-{target.gnu_triple}-{target.sysroot}"


def build_image_tag(target: Target, dockerfile: str, locked: Packages | None = None) -> str:
    """``build_image_name``, tagged with the hash of the Dockerfile and its lock section."""
    text = dockerfile if locked is None else f"{dockerfile}\n# lock\n{format_section(locked)}"
    return f"{build_image_name(target)}:{_short_hash(text)}"


def rootfs_specs(target: Target, lock: ImageLock | None) -> tuple[RootfsSpec, RootfsSpec]:
    """The base and sysroot specs of ``target``, pinned to ``lock`` (None: not pinned)."""
    base = RootfsSpec(BASE_SUITE)
    sysroot = RootfsSpec(
        target.sysroot,
        include=tuple(SYSROOT_PACKAGES.get(target.sysroot, [])),
        keep=tuple(SYSROOT_KEEP),
        arch=target.debian_arch,
    )
    if lock is None:
        return base, sysroot
    return (
        replace(base, locked=lock.require(base.section, target.triple)),
        replace(sysroot, locked=lock.require(sysroot.section, target.triple)),
    )


def _build_image(target: Target, lock: ImageLock, base_tag: str, sysroot_tag: str) -> BuildImage:
    locked = lock.require(target.image, target.triple)
    dockerfile = render_build_dockerfile(target, base_tag, sysroot_tag, build_pins(target, locked))
    return BuildImage(build_image_tag(target, dockerfile, locked), dockerfile)


def planned_build_image(target: Target, lock: ImageLock | None = None) -> BuildImage:
    """The build image's tag and Dockerfile, known from inputs alone (no engine needed)."""
    lock = read_lock() if lock is None else lock
    base, sysroot = rootfs_specs(target, lock)
    return _build_image(target, lock, base.tag, sysroot.tag)


def ensure_build_image(
    engine: Engine,
    target: Target,
    logs: Path,
    records: Path | None = None,
    lock: ImageLock | None = None,
) -> BuildImage:
    """Make (or find) the build image pinned to ``lock`` (default: the checked-in one).

    With ``records``, record the packages of each image made, and of a build image found
    without a record.
    """
    lock = read_lock() if lock is None else lock
    base_spec, sysroot_spec = rootfs_specs(target, lock)
    base = ensure_rootfs_image(engine, base_spec, logs, records, target.triple)
    sysroot = ensure_rootfs_image(engine, sysroot_spec, logs, records, target.triple)
    image = _build_image(target, lock, base, sysroot)
    if not image_exists(engine, image.tag):
        logfile = logs / f"image-{build_image_name(target).rsplit('/', 1)[1]}.log"
        with log.step(f"build image {image.tag}"):
            installed = _make_checked_build_image(engine, target, lock, image, logfile)
        if records is not None:
            write_record(records, image.tag, installed)
    if records is not None and not record_path(records, image.tag).is_file():
        record_image_packages(engine, records, image.tag)
    return image


def _make_checked_build_image(
    engine: Engine, target: Target, lock: ImageLock, image: BuildImage, logfile: Path
) -> Packages:
    """Build ``image`` and check its packages against the lock; on any failure no image is left
    tagged. Returns the packages it holds."""
    try:
        # Without Docker's layer cache: a cached layer of the same Dockerfile holds what the
        # mirror had then, and the tag (which also hashes the lock) already says whether to build.
        docker_build(engine, image.dockerfile, image.tag, logfile, nocache=True)
    except log.LoggedFailure:
        what = explain_apt_failure(logfile.read_text(errors="replace"))
        if what is None:
            raise
        raise BuildError(
            pinned_install_message(image.tag, target.image, what, logfile, target.triple)
        ) from None
    try:
        installed = list_image_packages(engine, image.tag)
        check_packages(
            image.tag, target.image, lock.require(target.image), installed, target.triple
        )
    except BaseException:
        remove_image(engine, image.tag)
        raise
    return installed


def recorded_image_packages(
    target: Target, records: Path, lock: ImageLock | None = None
) -> list[ImagePackages]:
    """The build and sysroot images' packages as recorded, else as locked (no engine needed).

    An image with a pinned tag was checked against its lock section when it was made, so the
    section is what it holds.
    """
    lock = read_lock() if lock is None else lock
    _, sysroot = rootfs_specs(target, lock)
    build_tag = planned_build_image(target, lock).tag
    return [
        ImagePackages(
            "build",
            build_tag,
            BASE_SUITE,
            tuple(BUILD_PACKAGES),
            read_record(records, build_tag) or lock.require(target.image, target.triple),
        ),
        ImagePackages(
            "sysroot",
            sysroot.tag,
            sysroot.suite,
            sysroot.include,
            read_record(records, sysroot.tag) or (sysroot.locked or ()),
        ),
    ]


def docker_build(
    engine: Engine, dockerfile: str, tag: str, logfile: Path, nocache: bool = False
) -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("w") as out:
        try:
            for chunk in engine.client.api.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                rm=True,
                forcerm=True,
                nocache=nocache,
                decode=True,
            ):
                if "stream" in chunk:
                    out.write(chunk["stream"])
                if "error" in chunk:
                    out.write(chunk["error"] + "\n")
                    out.flush()
                    raise log.LoggedFailure(f"building image {tag} failed", logfile)
        except docker.errors.APIError as exc:
            out.write(f"{exc}\n")
            out.flush()
            raise log.LoggedFailure(f"building image {tag} failed", logfile) from None
