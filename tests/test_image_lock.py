"""The image package lock: its format, image tags, pinned Dockerfiles, and what happens when an
image made from the mirror is not what the lock says (a fake engine; no containers run)."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import docker.errors
import pytest

from pythonbuild import log
from pythonbuild.errors import BuildError, UsageError
from pythonbuild.linux.engine import Engine
from pythonbuild.linux.images import build as images
from pythonbuild.linux.images import cli as lock_images
from pythonbuild.linux.images import lock as image_lock
from pythonbuild.linux.images.lock import (
    ImageLock,
    ImageMismatch,
    diff_packages,
    explain_apt_failure,
    format_lock,
    mismatch_message,
    parse_lock,
    read_lock,
    write_lock,
)
from pythonbuild.linux.images.packages import read_record, record_path
from pythonbuild.sbom.toolchain import DebianPackage
from pythonbuild.targets import get_target

TARGET = get_target("x86_64-unknown-linux-gnu")
LLVM = "1:19.1.7-3~deb12u1"


def pkg(name: str, version: str = "1.0-1", arch: str = "amd64") -> DebianPackage:
    return DebianPackage(name, version, arch)


BASE = (
    pkg("base-files", "12.4+deb12u15"),
    pkg("libc6", "2.36-9+deb12u14"),
    pkg("tzdata", "2025b-0+deb12u2", "all"),
)
SYSROOT = (
    pkg("libc6", "2.31-13+deb11u11"),
    pkg("libc6-dev", "2.31-13+deb11u11"),
    pkg("libgcc-10-dev", "10.2.1-6"),
    pkg("linux-libc-dev", "5.10.244-1"),
)
BUILD = tuple(sorted({*BASE, pkg("libllvm19", LLVM), *(
    pkg(name, LLVM if "19" in name else "2.0-1") for name in images.BUILD_PACKAGES
)}))  # fmt: skip
LOCK = ImageLock({"base-bookworm": BASE, "sysroot-bullseye": SYSROOT, "build": BUILD})


def with_version(packages, name: str, version: str):
    return tuple(replace(p, version=version) if p.name == name else p for p in packages)


# ---------------------------------------------------------------------------------------------
# The file


def test_lock_round_trips_through_its_text():
    text = format_lock(LOCK)
    assert text.startswith("# Debian packages of the build's container images")
    assert "python3 -m pythonbuild lock-images --target <triple>" in text
    assert parse_lock(text) == LOCK
    assert format_lock(parse_lock(text)) == text
    # Sections in name order, lines "package version architecture" in package order.
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body[0] == "[base-bookworm]" and body[1] == "base-files 12.4+deb12u15 amd64"
    assert [line for line in body if line.startswith("[")] == [
        "[base-bookworm]",
        "[build]",
        "[sysroot-bullseye]",
    ]


def test_writer_sorts_what_it_is_given():
    shuffled = ImageLock({}).replaced({"base-bookworm": reversed(BASE)})
    assert shuffled.sections["base-bookworm"] == BASE


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("libc6 2.36 amd64\n", "before the first"),
        ("[build]\nlibc6 2.36\n", "expected 'package version architecture'"),
        ("[build]\nlibc6 2.36 amd64\n[build]\n", "appears twice"),
        ("[build]\nzlib1g 1 amd64\nlibc6 2.36 amd64\n", "out of order"),
        ("[build]\nlibc6 2.36 amd64\nlibc6 2.37 amd64\n", "out of order or repeated"),
        ("[build]\nlibc6 2.36;rm amd64\n", "not a Debian version"),
        ("[build]\nLibc6 2.36 amd64\n", "not a Debian package name"),
    ],
)
def test_bad_lock_text_names_the_line(text, error):
    with pytest.raises(BuildError, match=error) as info:
        parse_lock(text, "the.lock")
    assert "the.lock line" in str(info.value)


def test_duplicate_packages_cannot_be_locked():
    with pytest.raises(BuildError, match="libc6 more than once"):
        ImageLock({}).replaced({"build": (pkg("libc6"), pkg("libc6", arch="i386"))})


def test_write_lock_replaces_the_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "image-packages.lock"
    write_lock(LOCK, path)
    assert read_lock(path) == LOCK
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    before = path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_lock(LOCK.replaced({"build": BASE}), path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["image-packages.lock"]  # no temporary left


def test_missing_lock_and_section_say_the_fix(tmp_path):
    with pytest.raises(BuildError, match=r"is missing.*lock-images"):
        read_lock(tmp_path / "nothing.lock")
    with pytest.raises(BuildError, match=r"no \[sysroot-buster\] section.*--target x86_64"):
        LOCK.require("sysroot-buster", "x86_64-unknown-linux-gnu")


def test_checked_in_lock_is_canonical_and_covers_the_recipes():
    text = image_lock.LOCK_PATH.read_text()
    lock = parse_lock(text)
    assert format_lock(lock) == text  # exactly as lock-images writes it
    base, sysroot = images.rootfs_specs(TARGET, lock)
    build = {p.name for p in lock.require(TARGET.image)}
    assert set(images.BUILD_PACKAGES) <= build
    assert {p.name for p in base.locked or ()} <= build  # the build image starts from the base
    assert set(images.SYSROOT_PACKAGES[TARGET.sysroot]) <= {p.name for p in sysroot.locked or ()}


# ---------------------------------------------------------------------------------------------
# Differences


def test_differences_name_changed_added_and_missing_packages():
    installed = (
        pkg("base-files", "12.4+deb12u16"),
        pkg("libc6", "2.36-9+deb12u14", "arm64"),
        pkg("newcomer", "3"),
    )
    described = [d.describe() for d in diff_packages(BASE, installed)]
    assert described == [
        "base-files 12.4+deb12u15 → 12.4+deb12u16",
        "libc6 2.36-9+deb12u14 amd64 → 2.36-9+deb12u14 arm64",
        "newcomer added (3)",
        "tzdata missing (locked 2025b-0+deb12u2)",
    ]
    assert diff_packages(BASE, reversed(BASE)) == []


def test_mismatch_message_is_one_line_with_the_first_few_and_the_fix():
    installed = tuple(pkg(f"extra{i}") for i in range(7)) + BASE[1:]
    differences = diff_packages(BASE, installed)
    message = mismatch_message("sp/base-bookworm:abc", "base-bookworm", differences, TARGET.triple)
    assert "\n" not in message
    assert "sp/base-bookworm:abc" in message and "[base-bookworm]" in message
    assert "8 package(s) differ" in message
    assert "base-files missing (locked 12.4+deb12u15)" in message
    assert "extra3 added" in message and "extra4" not in message and "and 3 more" in message
    assert "`python3 -m pythonbuild lock-images --target x86_64-unknown-linux-gnu`" in message


@pytest.mark.parametrize(
    ("log_text", "expected"),
    [
        (
            f"Reading package lists...\nE: Version '{LLVM}' for 'clang-19' was not found\n",
            f"the Debian mirror no longer has clang-19 {LLVM}",
        ),
        ("E: Unable to locate package bolt-19\n", "the Debian mirror has no package bolt-19"),
        (  # as a docker build log has it: apt colours the "E"
            "\x1b[91mE\x1b[0m\x1b[91m: Version '1:19.1.7-3~deb12u0' for 'clang-19' was not found\n",
            "the Debian mirror no longer has clang-19 1:19.1.7-3~deb12u0",
        ),
        (
            "The following packages have unmet dependencies:\n"
            " clang-19 : Depends: libclang-cpp19 (= 1:19.1.7-3~deb12u1) but 1:19.1.7-3~deb12u2 "
            "is to be installed\nE: Unable to correct problems, you have held broken packages.\n",
            "apt cannot install the locked clang-19: Depends: libclang-cpp19 (= 1:19.1.7-3~deb12u1)",
        ),
        ("E: Failed to fetch http://mirror/pool/x.deb  Connection refused\n", None),
    ],
)
def test_apt_failures_are_explained(log_text, expected):
    explained = explain_apt_failure(log_text)
    if expected is None:
        assert explained is None
    else:
        assert explained is not None and explained.startswith(expected)


# ---------------------------------------------------------------------------------------------
# Tags and the Dockerfile


def test_each_tag_follows_its_own_lock_section():
    def tags(lock):
        base, sysroot = images.rootfs_specs(TARGET, lock)
        return base.tag, sysroot.tag, images.planned_build_image(TARGET, lock).tag

    base, sysroot, build = tags(LOCK)
    assert tags(LOCK) == (base, sysroot, build)
    # A build-section change (a dependency, not a pinned package): only the build image.
    new_build = LOCK.replaced({"build": with_version(BUILD, "libllvm19", "1:19.1.7-4")})
    assert tags(new_build) == (base, sysroot, tags(new_build)[2]) and tags(new_build)[2] != build
    # A sysroot change: the sysroot and the build image (which copies it).
    new_sysroot = LOCK.replaced({"sysroot-bullseye": with_version(SYSROOT, "libc6-dev", "2.31-14")})
    assert tags(new_sysroot)[0] == base and tags(new_sysroot)[1] != sysroot
    assert tags(new_sysroot)[2] != build
    # A base change moves all but the sysroot.
    new_base = LOCK.replaced({"base-bookworm": with_version(BASE, "tzdata", "2026a-0")})
    assert tags(new_base)[0] != base and tags(new_base)[1] == sysroot
    assert tags(new_base)[2] != build
    # Unpinned specs (test systems of other suites) keep the tag they had without a lock.
    assert images.rootfs_specs(TARGET, None)[0].tag != base


def test_runtime_systems_are_pinned_only_where_the_lock_has_their_base():
    assert images.runtime_rootfs_spec("bookworm", LOCK) == images.rootfs_specs(TARGET, LOCK)[0]
    trixie = images.runtime_rootfs_spec("trixie", LOCK)
    assert trixie.locked is None and trixie.tag == images.RootfsSpec("trixie").tag


def test_build_dockerfile_pins_every_requested_package():
    dockerfile = images.planned_build_image(TARGET, LOCK).dockerfile
    install = next(line for line in dockerfile.splitlines() if "apt-get install" in line)
    arguments = install.split("--no-install-recommends", 1)[1].rstrip(" \\").split()
    assert sorted(arguments) == sorted(
        f"{name}={LLVM if '19' in name else '2.0-1'}" for name in images.BUILD_PACKAGES
    )
    assert f"clang-19={LLVM}" in install
    unpinned = images.render_build_dockerfile(TARGET, "b:1", "s:1", pins=None)
    assert " clang-19 " in unpinned and "clang-19=" not in unpinned


def test_a_requested_package_missing_from_the_lock_is_an_error():
    lock = LOCK.replaced({"build": tuple(p for p in BUILD if p.name != "patchelf")})
    with pytest.raises(
        BuildError, match=r"asks for patchelf, which \[build\].*lock-images"
    ) as info:
        images.planned_build_image(TARGET, lock)
    assert "\n" not in str(info.value)


def test_recorded_packages_fall_back_to_the_lock(tmp_path):
    build, sysroot = images.recorded_image_packages(TARGET, tmp_path, LOCK)
    assert build.installed == BUILD and sysroot.installed == SYSROOT


# ---------------------------------------------------------------------------------------------
# Making images against the lock (fake engine)


class FakeImages:
    def __init__(self) -> None:
        self.tags: set[str] = set()
        self.removed: list[str] = []

    def get(self, tag: str) -> str:
        if tag not in self.tags:
            raise docker.errors.ImageNotFound(tag)
        return tag

    def remove(self, tag: str, noprune: bool = False) -> None:
        self.get(tag)
        self.tags.remove(tag)
        self.removed.append(tag)


class FakeClient:
    def __init__(self, installed: tuple[DebianPackage, ...]) -> None:
        self.images = FakeImages()
        self.installed = installed
        self.containers = self
        self.api = self

    def run(self, tag: str, command: list[str], **kwargs: object) -> bytes:  # containers.run
        self.images.get(tag)
        lines = [f"installed\t{p.name}\t{p.version}\t{p.architecture}" for p in self.installed]
        return ("\n".join([*lines, "config-files\tgone\t1\tamd64"]) + "\n").encode()

    def import_image_from_stream(self, stream: io.BufferedReader, repository: str) -> None:
        stream.read()
        self.images.tags.add(repository)


def fake_engine(installed=BUILD) -> tuple[Engine, FakeClient]:
    client = FakeClient(installed)
    return Engine(client, "fake"), client  # type: ignore[arg-type]


@pytest.fixture
def made_rootfs(monkeypatch):
    """Rootfs images exist already; build images 'build' by just getting their tag."""
    built: list[str] = []

    def fake_build(engine, dockerfile, tag, logfile, nocache=False):
        assert nocache, "a cached layer holds what the mirror had when it was made"
        built.append(tag)
        engine.client.images.tags.add(tag)

    monkeypatch.setattr(images, "docker_build", fake_build)
    return built


def _engine_with_rootfs(installed):
    engine, client = fake_engine(installed)
    base, sysroot = images.rootfs_specs(TARGET, LOCK)
    client.images.tags |= {base.tag, sysroot.tag}
    return engine, client


def test_build_image_matching_the_lock_is_kept_and_recorded(made_rootfs, tmp_path):
    engine, client = _engine_with_rootfs(BUILD)
    image = images.ensure_build_image(engine, TARGET, tmp_path / "logs", tmp_path, LOCK)
    assert made_rootfs == [image.tag] and image.tag in client.images.tags
    assert read_record(tmp_path, image.tag) == BUILD
    # Found the second time: not built again.
    images.ensure_build_image(engine, TARGET, tmp_path / "logs", tmp_path, LOCK)
    assert made_rootfs == [image.tag]


def test_build_image_that_differs_from_the_lock_is_removed(made_rootfs, tmp_path):
    drifted = with_version(BUILD, "libllvm19", "1:19.1.7-4")
    engine, client = _engine_with_rootfs(drifted)
    with pytest.raises(ImageMismatch) as info:
        images.ensure_build_image(engine, TARGET, tmp_path / "logs", tmp_path, LOCK)
    message = str(info.value)
    assert f"libllvm19 {LLVM} → 1:19.1.7-4" in message and "[build]" in message
    assert "lock-images --target x86_64-unknown-linux-gnu" in message and "\n" not in message
    assert client.images.removed == made_rootfs and made_rootfs[0] not in client.images.tags
    assert not record_path(tmp_path, made_rootfs[0]).exists()


def test_a_locked_version_gone_from_the_mirror_is_one_line(monkeypatch, tmp_path):
    engine, client = _engine_with_rootfs(BUILD)

    def failing_build(engine, dockerfile, tag, logfile, nocache=False):
        logfile.parent.mkdir(parents=True, exist_ok=True)
        logfile.write_text(f"E: Version '{LLVM}' for 'lld-19' was not found\n")
        raise log.LoggedFailure(f"building image {tag} failed", logfile)

    monkeypatch.setattr(images, "docker_build", failing_build)
    with pytest.raises(BuildError) as info:
        images.ensure_build_image(engine, TARGET, tmp_path / "logs", None, LOCK)
    message = str(info.value)
    assert not isinstance(info.value, log.LoggedFailure) and "\n" not in message
    assert f"no longer has lld-19 {LLVM}" in message
    assert "lock-images --target x86_64-unknown-linux-gnu" in message
    assert client.images.tags == {spec.tag for spec in images.rootfs_specs(TARGET, LOCK)}


@pytest.fixture
def fake_debootstrap(monkeypatch):
    """debootstrap that makes a rootfs whose dpkg status lists the packages in ``state``."""
    state: dict[str, tuple[DebianPackage, ...]] = {"packages": BASE}

    def debootstrap(spec, rootfs: Path, logfile: Path):
        status = rootfs / "var/lib/dpkg/status"
        status.parent.mkdir(parents=True)
        (rootfs / "usr/include").mkdir(parents=True)
        status.write_text(
            "\n\n".join(
                f"Package: {p.name}\nStatus: install ok installed\nVersion: {p.version}\n"
                f"Architecture: {p.architecture}"
                for p in state["packages"]
            )
            + "\n"
        )
        return images.parse_dpkg_status(status.read_text())

    monkeypatch.setattr(images, "_debootstrap", debootstrap)
    return state


def test_rootfs_that_differs_from_the_lock_is_never_imported(fake_debootstrap, tmp_path):
    engine, client = fake_engine()
    base = images.rootfs_specs(TARGET, LOCK)[0]
    fake_debootstrap["packages"] = with_version(BASE, "libc6", "2.36-9+deb12u15")
    with pytest.raises(ImageMismatch, match=r"libc6 2\.36-9\+deb12u14 → 2\.36-9\+deb12u15"):
        images.ensure_rootfs_image(engine, base, tmp_path / "logs", tmp_path, TARGET.triple)
    assert client.images.tags == set() and not record_path(tmp_path, base.tag).exists()
    fake_debootstrap["packages"] = BASE
    assert images.ensure_rootfs_image(engine, base, tmp_path / "logs", tmp_path) == base.tag
    assert client.images.tags == {base.tag} and read_record(tmp_path, base.tag) == BASE


# ---------------------------------------------------------------------------------------------
# lock-images


def test_lock_rootfs_image_pins_the_spec_to_what_debootstrap_gave(fake_debootstrap, tmp_path):
    engine, client = fake_engine()
    unpinned = images.rootfs_specs(TARGET, None)[0]
    locked = lock_images.lock_rootfs_image(engine, unpinned, tmp_path / "logs", tmp_path)
    assert locked.locked == BASE and locked.tag == images.rootfs_specs(TARGET, LOCK)[0].tag
    assert client.images.tags == {locked.tag}


def test_refreshing_keeps_other_sections_and_reports_changes():
    other = LOCK.replaced({"sysroot-buster": SYSROOT})
    new_build = with_version(BUILD, "libllvm19", "1:19.1.7-4")
    refreshed = other.replaced({"build": new_build})
    assert refreshed.sections["sysroot-buster"] == SYSROOT
    assert refreshed.sections["base-bookworm"] == BASE
    summary = lock_images._summary("build", LOCK.section("build"), new_build)
    assert summary.startswith(f"[build] {len(BUILD)} packages, 1 changed: libllvm19")
    assert lock_images._summary("build", None, new_build).endswith("(new section)")
    assert lock_images._summary("build", new_build, new_build).endswith("unchanged")


def test_lock_images_arguments():
    config = lock_images.parse_args(["--lock", "x.lock"])
    assert config.target == TARGET and config.lock_path == Path("x.lock").resolve()
    with pytest.raises(UsageError, match="unknown target"):
        lock_images.parse_args(["--target", "sparc64-unknown-linux-gnu"])
