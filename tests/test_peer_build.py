"""peer-build docker-recipe: the recipe, its stamp, and bad input. The build itself is run by
hand (docs/benchmarks.md has the figures): it takes half an hour and Debian's archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pythonbuild.bench import debootstrap, peer_build
from pythonbuild.errors import UsageError
from pythonbuild.registry import load_registry


def test_docker_recipe_builds_as_the_official_image_does() -> None:
    source = load_registry().cpython("3.13")
    script = peer_build.build_script(source.filename)
    configure = next(line for line in script.splitlines() if line.startswith("./configure"))
    for flag in ("--enable-optimizations", "--with-lto", "--enable-shared", "--with-system-expat"):
        assert f" {flag}" in configure
    assert 'EXTRA_CFLAGS="$(dpkg-buildflags --get CFLAGS)"' in script
    assert "-Wl,-rpath='\\$\\$ORIGIN/../lib'" in script  # python finds its libpython
    assert f"--file /usr/src/{source.filename}" in script
    assert "gcc" in peer_build.BUILD_PACKAGES and "clang" not in script
    wanted = peer_build.recipe("docker-recipe", source.filename, source.sha256)
    assert wanted["source"] == {"file": source.filename, "sha256": source.sha256}
    assert wanted["script"] == script and wanted["suite"] == "trixie"


def test_a_finished_chroot_is_reused_and_another_recipe_refused(tmp_path: Path) -> None:
    wanted = {"suite": "trixie", "variant": "minbase", "include": [], "peer": "docker-recipe"}
    dest = tmp_path / "peer"
    assert debootstrap.made_version(dest, wanted) is None  # not made yet
    dest.mkdir()
    assert debootstrap.made_version(dest, wanted) is None  # an empty directory is fine
    (dest / "etc").mkdir()
    with pytest.raises(UsageError, match="was not made by this command"):
        debootstrap.made_version(dest, wanted)
    (dest / debootstrap.STAMP_NAME).write_text(json.dumps({"recipe": wanted, "version": "3.13.15"}))
    assert debootstrap.made_version(dest, wanted) == "3.13.15"
    with pytest.raises(UsageError, match=r"another recipe.*rm -rf"):
        debootstrap.made_version(dest, {**wanted, "script": "changed"})


def test_peer_build_rejects_an_unpinned_python() -> None:
    with pytest.raises(UsageError, match=r"--python 2\.7: no pinned CPython"):
        peer_build._parse_args(["docker-recipe", "--python", "2.7"])
    with pytest.raises(SystemExit):
        peer_build._parse_args(["conda"])  # argparse: invalid choice, exit 2
