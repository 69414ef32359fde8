"""The free-space check before a build or test-dist run: sizes, estimates, the message, and a
real build refused on a 64 MB tmpfs (root only) before it writes anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from tarfiles import tar_bytes

from pythonbuild import preflight
from pythonbuild.bootstrap import venv_dir
from pythonbuild.errors import BuildError, UsageError
from pythonbuild.linux import engine, space_needs
from pythonbuild.linux.images.build import planned_build_image, rootfs_specs
from pythonbuild.linux.images.lock import read_lock
from pythonbuild.linux.plan import BuildRequest, make_plan
from pythonbuild.options import parse_options
from pythonbuild.preflight import FileSystem, Need, check_free_space, file_systems
from pythonbuild.registry import load_registry
from pythonbuild.sizes import format_size, parse_size
from pythonbuild.targets import get_target
from pythonbuild.testdist import cli as testdist_cli

ROOT = Path(__file__).resolve().parent.parent
GB, MB = 1024**3, 1024**2
TRIPLE = "x86_64-unknown-linux-gnu"


# ---------------------------------------------------------------------------------------------
# Sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("1048576", MB), ("500M", 500 * MB), ("1.5G", 3 * GB // 2), ("2g", 2 * GB),
     ("2GB", 2 * GB), ("2GiB", 2 * GB), (" 40G ", 40 * GB), ("1T", 1024 * GB), ("10K", 10240),
     ("512B", 512), ("0.5G", GB // 2)],
)  # fmt: skip
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "G", "-1G", "1.5X", "1 G B", "ten", "1e9", "1GG"])
def test_a_bad_size_is_one_line(text):
    with pytest.raises(UsageError) as caught:
        parse_size(text)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{text!r} is not a size")


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (MB - 1, "1.0 MB"),
     (int(1.25 * GB), "1.2 GB"), (int(1.3 * GB), "1.3 GB"), (3 * 1024 * GB, "3.0 TB")],
)  # fmt: skip
def test_format_size(n, text):
    assert format_size(n) == text


# ---------------------------------------------------------------------------------------------
# STANDALONE_PYTHON_MIN_FREE


def test_min_free_override_is_parsed_and_zero_turns_the_check_off(tmp_path):
    env = preflight.MIN_FREE_ENV
    assert preflight.min_free_override({}) is None
    assert preflight.min_free_override({env: " "}) is None
    assert preflight.min_free_override({env: "2G"}) == 2 * GB
    huge = [Need(tmp_path, 1024**5, "a petabyte")]
    with pytest.raises(BuildError, match="not enough free disk space"):
        check_free_space(huge, "build", floor=0, environ={})
    check_free_space(huge, "build", floor=0, environ={env: "0"})  # off: no error
    # It replaces the estimate and the floor, both ways.
    check_free_space(huge, "build", floor=1024**5, environ={env: "1M"})
    small = [Need(tmp_path, 1, "a byte")]
    with pytest.raises(BuildError, match=rf"needs 100\.0 TB there \({env}; for a byte\)"):
        check_free_space(small, "build", floor=0, environ={env: "100T"})


def test_bad_min_free_is_one_line_naming_the_variable(tmp_path):
    with pytest.raises(UsageError) as caught:
        environ = {"STANDALONE_PYTHON_MIN_FREE": "lots"}
        check_free_space([Need(tmp_path, 1, "x")], "build", floor=0, environ=environ)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("STANDALONE_PYTHON_MIN_FREE: 'lots' is not a size")
    assert "0 turns the free-space check off" in message


# ---------------------------------------------------------------------------------------------
# Grouping by file system, and the message


Usage = namedtuple("Usage", "total used free")


def test_needs_on_one_file_system_add_up(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: Usage(0, 0, 3 * GB))
    cache, dist = tmp_path / "cache", tmp_path / "dist" / "not" / "there" / "yet"
    (fs,) = file_systems([Need(cache, 2 * GB, "cache"), Need(dist, 2 * GB, "dist"),
                          Need(cache, 0, "nothing")])  # fmt: skip
    assert fs.size == 4 * GB and fs.paths == [cache, dist] and fs.free == 3 * GB
    check_free_space([Need(cache, 2 * GB, "cache")], "build", floor=0, environ={})
    check_free_space([Need(dist, 2 * GB, "dist")], "build", floor=0, environ={})
    with pytest.raises(BuildError) as caught:  # each fits alone, not both
        check_free_space([Need(cache, 2 * GB, "cache"), Need(dist, 2 * GB, "dist")], "build",
                         floor=0, environ={})  # fmt: skip
    message = str(caught.value)
    assert f"{cache} and {dist} (one file system) have 3.0 GB free" in message
    assert "needs about 4.0 GB there (cache, dist)" in message


def test_the_floor_applies_to_file_systems_that_get_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: Usage(0, 0, 2 * GB))
    check_free_space([Need(tmp_path, 0, "nothing new")], "build", floor=3 * GB, environ={})
    with pytest.raises(BuildError, match=r"needs at least 3\.0 GB there \(the least any build"):
        check_free_space([Need(tmp_path, MB, "logs")], "build", floor=3 * GB, environ={})


def test_existing_ancestor():
    assert preflight.existing_ancestor(Path("/no/such/dir/here")) == Path("/")
    assert preflight.existing_ancestor(ROOT / "nope" / "x") == ROOT


def test_the_message_names_free_needed_and_the_fix():
    cache = Path("/root/.cache/standalone-python")
    fs = FileSystem(1, int(1.2 * GB), [
        Need(cache, int(1.5 * GB), "2 library steps", "--cache-dir", prunable=True),
        Need(cache, int(1.7 * GB), "CPython noopt", "--cache-dir", prunable=True),
        Need(cache, int(1.3 * GB), "build image", "STANDALONE_PYTHON_ENGINE_DIR"),
    ])  # fmt: skip
    message = preflight.shortage_message(fs, fs.size, "build", floor=3 * GB)
    assert "\n" not in message
    assert message.startswith(
        "not enough free disk space for this build: /root/.cache/standalone-python has 1.2 GB "
        "free, the build needs about 4.5 GB there (2 library steps, CPython noopt, build image); "
        "free space with `python -m pythonbuild cache prune` or use --cache-dir or "
        "STANDALONE_PYTHON_ENGINE_DIR on a larger disk"
    ), message
    assert "STANDALONE_PYTHON_MIN_FREE" in message
    # Without the cache on that disk, `cache prune` does not help there.
    other = FileSystem(2, MB, [Need(Path("/tmp"), GB, "debootstrap", "TMPDIR")])
    text = preflight.shortage_message(other, GB, "test run", floor=0)
    assert "cache prune" not in text and "free space on it or use TMPDIR on a larger disk" in text


# ---------------------------------------------------------------------------------------------
# The estimates


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """An engine data root for the estimates (no engine is asked)."""
    root = tmp_path / "engine-data"
    monkeypatch.setattr(space_needs, "expected_data_root", lambda: root)
    monkeypatch.setattr(space_needs, "temp_dir", lambda: tmp_path / "tmp")
    return root


def _record_images(root: Path, tags: list[str]) -> None:
    path = root / "image" / "overlay2" / "repositories.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    repositories: dict[str, dict[str, str]] = {}
    for tag in tags:
        repositories.setdefault(tag.split(":")[0], {})[tag] = "sha256:" + "0" * 64
    path.write_text(json.dumps({"Repositories": repositories}))


def _build_plan(options: str = "noopt"):
    lock = read_lock()
    target = get_target(TRIPLE)
    request = BuildRequest(target, "3.13", parse_options(options), "20260101", 1)
    return make_plan(request, load_registry(), planned_build_image(target, lock).tag), lock


def _by_what(needs: list[Need]) -> dict[str, Need]:
    return {need.what.split(" ", 1)[-1] if need.what[0].isdigit() else need.what: need
            for need in needs}  # fmt: skip


def test_estimate_of_a_build_with_nothing_cached(tmp_path, data_root):
    plan, lock = _build_plan("pgo+lto")
    cache, dist, build = tmp_path / "cache", tmp_path / "dist", tmp_path / "build"
    needs = space_needs.build_needs(plan, plan.steps, plan.steps, lock, cache_dir=cache,
                                    dist_dir=dist, build_dir=build)  # fmt: skip
    f = space_needs.figures()["build"]
    found = _by_what(needs)
    libraries = len(plan.steps) - 1
    assert found["library steps"].size == libraries * f["library_step"]
    assert found["library steps"].what == f"{libraries} library steps"
    assert found["CPython pgo+lto"].size == 3 * GB  # the figure for pgo+lto
    assert found["source downloads"].size == sum(s.source.size for s in plan.steps)
    assert {n.path for n in needs if n.what.endswith(("steps", "downloads", "pgo+lto"))} == {cache}
    # No record of the images in the data root: all three are made, one debootstrap at a time.
    assert found["build image"].size == f["build_image"] + 2 * f["rootfs_image"]
    assert found["step containers"].path == data_root
    assert found["debootstrap"].path == tmp_path / "tmp"
    assert found["dist outputs"].path == dist and found["assemble work dir"].path == build
    total = sum(n.size for n in needs)
    assert 8 * GB < total < 12 * GB, format_size(total)


def test_estimate_of_a_build_with_everything_cached(tmp_path, data_root):
    plan, lock = _build_plan()
    cache = tmp_path / "cache"
    for step in plan.steps:
        (cache / "sources").mkdir(parents=True, exist_ok=True)
        (cache / "sources" / step.source.filename).touch()
    needs = space_needs.build_needs(plan, plan.steps, [], lock, cache_dir=cache,
                                    dist_dir=tmp_path / "d", build_dir=tmp_path / "b")  # fmt: skip
    # Nothing in the cache, no image, no container: only the archives and their assembly.
    assert [n.what for n in needs] == ["dist outputs", "assemble work dir"]
    libraries_only = space_needs.build_needs(plan, plan.steps[:-1], [], lock, cache_dir=cache,
                                             dist_dir=None, build_dir=tmp_path / "b")  # fmt: skip
    assert libraries_only == []


def test_only_missing_steps_and_images_count(tmp_path, data_root):
    plan, lock = _build_plan()
    base, sysroot = rootfs_specs(plan.request.target, lock)
    _record_images(data_root, [plan.image_tag, base.tag, sysroot.tag])
    missing = [plan.step("cpython")]
    needs = space_needs.build_needs(plan, plan.steps, missing, lock, cache_dir=tmp_path / "c",
                                    dist_dir=None, build_dir=tmp_path / "b")  # fmt: skip
    whats = [n.what for n in needs]
    assert "CPython noopt" in whats and "step containers" in whats
    assert not any("library" in w or "image" in w or w == "debootstrap" for w in whats), whats
    _record_images(data_root, [plan.image_tag, base.tag])  # the sysroot image was removed
    needs = space_needs.build_needs(plan, plan.steps, missing, lock, cache_dir=tmp_path / "c",
                                    dist_dir=None, build_dir=tmp_path / "b")  # fmt: skip
    assert _by_what(needs)["base image"].size == space_needs.figures()["build"]["rootfs_image"]


def test_images_the_engine_records(tmp_path, monkeypatch):
    assert engine.image_tags_in(tmp_path) is None  # nothing recorded: unknown, not "none"
    _record_images(tmp_path, ["standalone-python/base-bookworm:1", "other:latest"])
    assert engine.image_tags_in(tmp_path) == {"standalone-python/base-bookworm:1", "other:latest"}
    (tmp_path / "image" / "overlay2" / "repositories.json").write_text("[not json")
    assert engine.image_tags_in(tmp_path) is None
    monkeypatch.setenv("DOCKER_HOST", "tcp://elsewhere:2375")
    assert engine.expected_data_root() is None  # another machine's disk is not checked


def test_estimate_of_test_dist(tmp_path, data_root):
    f = space_needs.figures()["test_dist"]
    target, size = get_target(TRIPLE), 100 * MB
    common = {"output_dir": tmp_path / "out", "cache_dir": tmp_path / "cache"}
    smoke = space_needs.test_dist_needs(size, target, regrtest=False, containers=(), **common)
    assert [(n.what, n.size) for n in smoke] == [
        ("1 extraction of the archive", f["extraction_factor"] * size),
        ("logs and JUnit file", f["output"]),
    ]
    regrtest = _by_what(space_needs.test_dist_needs(size, target, regrtest=True, containers=(),
                                                    **common))  # fmt: skip
    assert regrtest["extractions of the archive"].size == 2 * f["extraction_factor"] * size
    assert regrtest["regrtest scratch"].size == f["regrtest_scratch"]
    suites = ("bullseye", "trixie")
    containers = space_needs.test_dist_needs(size, target, regrtest=False, containers=suites,
                                             **common)  # fmt: skip
    found = _by_what(containers)
    assert found["bullseye and trixie image"].size == 2 * f["runtime_rootfs"]
    assert found["bullseye and trixie image"].path == data_root
    emulated = space_needs.test_dist_needs(size, get_target("aarch64-unknown-linux-gnu"),
                                           regrtest=False, containers=(), **common)  # fmt: skip
    assert [n.path for n in emulated if n.prunable] == [tmp_path / "cache"]


def test_test_dist_refuses_before_writing(tmp_path, monkeypatch, capsys):
    metadata = {"python_major_minor_version": "3.13", "target_triple": TRIPLE,
                "build_options": "noopt", "python_version": "3.13.1"}  # fmt: skip
    archive = tmp_path / "cpython-3.13.1+1-x86_64-unknown-linux-gnu-noopt-full.tar.zst"
    archive.write_bytes(zstandard.ZstdCompressor().compress(
        tar_bytes({"python/PYTHON.json": json.dumps(metadata).encode()})))  # fmt: skip
    monkeypatch.setenv("STANDALONE_PYTHON_MIN_FREE", "1024T")
    code = testdist_cli.main([str(archive), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("error: not enough free disk space for this test run: ")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# A real build on a small disk (root: it mounts a tmpfs)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 64 MB tmpfs, unmounted again whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a 64 MB tmpfs needs root (CI runs the tests as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_needs_on_other_file_systems_are_checked_apart(tmp_path, small_disk):
    free = preflight.shutil.disk_usage(small_disk).free
    half = free * 2 // 3
    apart = [Need(tmp_path / "a", half, "a"), Need(small_disk / "b", half, "b")]
    assert len(file_systems(apart)) == 2
    check_free_space(apart, "build", floor=0, environ={})
    together = [Need(small_disk / "a", half, "a"), Need(small_disk / "b", half, "b")]
    with pytest.raises(BuildError, match="one file system"):
        check_free_space(together, "build", floor=0, environ={})


def test_a_build_on_a_small_disk_is_refused_and_leaves_nothing(small_disk):
    run_name = f"{TRIPLE}-3.13-noopt"
    log_dir = ROOT / "build" / "logs" / run_name
    logs_before = sorted(log_dir.iterdir()) if log_dir.exists() else None
    env = {k: v for k, v in os.environ.items() if k != "STANDALONE_PYTHON_MIN_FREE"}
    # Run ./build-linux.py itself with this interpreter (which has the build's requirements)
    # instead of letting it make build/venv-build first: the marker says we are in it already.
    env["STANDALONE_PYTHON_BOOTSTRAPPED"] = str(venv_dir("build"))
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, str(ROOT / "build-linux.py"), "--target", TRIPLE, "--python", "3.13",
         "--options", "noopt", "--cache-dir", str(small_disk / "cache"),
         "--dist", str(small_disk / "dist"), "--no-private-engine"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: not enough free disk space for this build: {small_disk / 'cache'} and "
        f"{small_disk / 'dist'} (one file system) have "
    ), result.stderr
    assert "CPython noopt" in last and "cache prune" in last and "--cache-dir" in last
    assert "Traceback" not in result.stderr
    assert list(small_disk.iterdir()) == []  # no cache or dist directory, no partial file
    if logs_before is None:
        assert not log_dir.exists()
    else:
        assert sorted(log_dir.iterdir()) == logs_before
