"""Container images made without a registry.

* Base images: a Debian rootfs made by ``debootstrap`` from the host's configured mirror and
  ``docker import``-ed.  A sysroot image is the same, pruned to the headers, libraries and CRT
  objects a compiler needs to link against that suite's glibc.
* Build images: rendered from ``cpython-unix/<name>.Dockerfile.j2`` on top of a base image.

Every image is tagged with the hash of its inputs (recipe, package list, template text, parent
image tag), so unchanged inputs find the existing image and nothing is rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import jinja2

from . import log
from .debian import debian_mirror_uri, ensure_host_tool
from .engine import Engine
from .errors import BuildError
from .paths import UNIX_DIR
from .sbom_images import (
    ImagePackages,
    read_record,
    record_image_packages,
    record_path,
    record_rootfs_packages,
)
from .targets import Target

IMAGE_PREFIX = "standalone-python"
BASE_SUITE = "bookworm"
LLVM_VERSION = "19"
# Bumped when the way a rootfs is made changes, so old images are not reused.
ROOTFS_RECIPE = "debootstrap-minbase-v2"

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
SYSROOT_PACKAGES = {"bullseye": ["libc6-dev", "linux-libc-dev", "libgcc-10-dev"]}
SYSROOT_KEEP = ["usr/include", "usr/lib", "usr/lib64", "lib", "lib64"]


@dataclass(frozen=True)
class RootfsSpec:
    suite: str
    include: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()  # empty: the whole rootfs

    @property
    def kind(self) -> str:
        return "sysroot" if self.keep else "base"

    def input_hash(self) -> str:
        data = {
            "recipe": ROOTFS_RECIPE,
            "suite": self.suite,
            "include": sorted(self.include),
            "keep": list(self.keep),
        }
        return _short_hash(json.dumps(data, sort_keys=True))

    @property
    def tag(self) -> str:
        return f"{IMAGE_PREFIX}/{self.kind}-{self.suite}:{self.input_hash()}"


def runtime_rootfs_spec(suite: str) -> RootfsSpec:
    """A plain ``--variant=minbase`` system of ``suite`` for running a distribution in.

    No compiler, no Python and nothing from the build image: what such a system lacks is what a
    distribution must not need. (It is the same spec, hence the same image, as a base image of
    that suite.)
    """
    return RootfsSpec(suite)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _image_exists(engine: Engine, tag: str) -> bool:
    try:
        engine.client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_rootfs_image(
    engine: Engine, spec: RootfsSpec, logs: Path, records: Path | None = None
) -> str:
    """Make (or find) the imported image for ``spec``; returns its tag.

    With ``records`` (a directory), a new image's Debian packages are recorded there
    (``sbom_images``); the tag does not change.
    """
    if _image_exists(engine, spec.tag):
        return spec.tag
    debootstrap = ensure_host_tool("debootstrap", "debootstrap", logs / "apt-debootstrap.log")
    mirror = debian_mirror_uri()
    logfile = logs / f"rootfs-{spec.kind}-{spec.suite}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with (
        log.step(f"debootstrap {spec.suite} ({spec.kind})"),
        tempfile.TemporaryDirectory(prefix="sp-rootfs-") as tmp,
    ):
        rootfs = Path(tmp) / "rootfs"
        cmd = [debootstrap, "--variant=minbase"]
        if spec.include:
            cmd.append("--include=" + ",".join(spec.include))
        cmd += [spec.suite, str(rootfs), mirror]
        with logfile.open("w") as out:
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise log.LoggedFailure(f"debootstrap of {spec.suite} failed", logfile)
        if records is not None:
            # Now or never: a sysroot keeps no dpkg database.
            record_rootfs_packages(records, spec.tag, rootfs)
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
            raise BuildError(f"packing the {spec.suite} rootfs failed (tar exit {tar.returncode})")
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


def render_build_dockerfile(target: Target, base_image: str, sysroot_image: str) -> str:
    template_path = UNIX_DIR / f"{target.image}.Dockerfile.j2"
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    template = env.from_string(template_path.read_text())
    return template.render(
        target=target,
        base_image=base_image,
        base_suite=BASE_SUITE,
        sysroot_image=sysroot_image,
        llvm_version=LLVM_VERSION,
        packages=sorted(BUILD_PACKAGES),
    )


def build_image_tag(target: Target, dockerfile: str) -> str:
    return f"{IMAGE_PREFIX}/{target.image}-{target.triple}:{_short_hash(dockerfile)}"


def _rootfs_specs(target: Target) -> tuple[RootfsSpec, RootfsSpec]:
    sysroot = RootfsSpec(
        target.sysroot,
        include=tuple(SYSROOT_PACKAGES.get(target.sysroot, [])),
        keep=tuple(SYSROOT_KEEP),
    )
    return RootfsSpec(BASE_SUITE), sysroot


def planned_build_image(target: Target) -> BuildImage:
    """The build image's tag and Dockerfile, known from inputs alone (no engine needed)."""
    base, sysroot = _rootfs_specs(target)
    dockerfile = render_build_dockerfile(target, base.tag, sysroot.tag)
    return BuildImage(build_image_tag(target, dockerfile), dockerfile)


def ensure_build_image(
    engine: Engine, target: Target, logs: Path, records: Path | None = None
) -> BuildImage:
    """Make (or find) the build image; with ``records``, record the packages of each image made,
    and of a build image found without a record."""
    base_spec, sysroot_spec = _rootfs_specs(target)
    base = ensure_rootfs_image(engine, base_spec, logs, records)
    sysroot = ensure_rootfs_image(engine, sysroot_spec, logs, records)
    dockerfile = render_build_dockerfile(target, base, sysroot)
    tag = build_image_tag(target, dockerfile)
    if not _image_exists(engine, tag):
        logfile = logs / f"image-{target.image}-{target.triple}.log"
        with log.step(f"build image {tag}"):
            _docker_build(engine, dockerfile, tag, logfile)
        if records is not None:
            record_path(records, tag).unlink(missing_ok=True)  # a rebuilt image: record anew
    if records is not None and not record_path(records, tag).is_file():
        record_image_packages(engine, records, tag)
    return BuildImage(tag, dockerfile)


def recorded_image_packages(target: Target, records: Path) -> list[ImagePackages]:
    """The build and sysroot images' packages as recorded (no engine needed)."""
    _, sysroot = _rootfs_specs(target)
    build_tag = planned_build_image(target).tag
    return [
        ImagePackages(
            "build", build_tag, BASE_SUITE, tuple(BUILD_PACKAGES), read_record(records, build_tag)
        ),
        ImagePackages(
            "sysroot",
            sysroot.tag,
            sysroot.suite,
            sysroot.include,
            read_record(records, sysroot.tag),
        ),
    ]


def _docker_build(engine: Engine, dockerfile: str, tag: str, logfile: Path) -> None:
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
                fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, decode=True
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
