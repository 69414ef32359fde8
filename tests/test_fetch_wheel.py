"""Wheels from the Python Package Index: pip fetches the pinned file, the cache checks it again.

pip runs for real, against a directory of wheels (``--find-links``) instead of an index, with
the host's own pip configuration switched off.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from pythonbuild.errors import BuildError
from pythonbuild.fetch import PackageIndexMirror, fetch_source, wheel_tag_arguments
from pythonbuild.registry import Source, load_registry

WHEEL = "demo_tool-1.0-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.whl"


@pytest.fixture
def wheel_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A find-links directory holding one small but valid wheel; pip sees only it."""
    links = tmp_path / "links"
    links.mkdir()
    with zipfile.ZipFile(links / WHEEL, "w") as archive:
        archive.writestr("demo_tool/__init__.py", "")
        info = "demo_tool-1.0.dist-info"
        archive.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: demo-tool\nVersion: 1.0\n"
        )
        archive.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
            "Tag: py3-none-manylinux_2_12_x86_64\nTag: py3-none-manylinux2010_x86_64\n",
        )
        archive.writestr(f"{info}/RECORD", "")
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return links


def _source(path: Path, sha256: str | None = None) -> Source:
    data = path.read_bytes()
    return Source(
        name="demo-tool",
        version="1.0",
        url="https://example.org/demo-tool-1.0.tar.xz",
        size=len(data),
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        origin="pypi-wheel",
        licenses=("MIT",),
        license_file="LICENSE",
        pypi_project="demo-tool",
        pypi_file=WHEEL,
    )


def test_pip_fetches_the_pinned_wheel_and_leaves_nothing_behind(wheel_dir, tmp_path):
    source = _source(wheel_dir / WHEEL)
    lines: list[str] = []
    cached = fetch_source(source, tmp_path / "cache", [PackageIndexMirror()], lines.append)
    assert cached == tmp_path / "cache" / "sources" / WHEEL
    assert cached.read_bytes() == (wheel_dir / WHEEL).read_bytes()
    assert any("from pypi" in line for line in lines)
    assert list((tmp_path / "tmp").iterdir()) == []  # pip's scratch directory is gone


def test_a_wheel_whose_bytes_differ_from_the_pin_is_refused(wheel_dir, tmp_path):
    source = _source(wheel_dir / WHEEL, sha256="0" * 64)
    with pytest.raises(BuildError) as failure:
        fetch_source(source, tmp_path / "cache", [PackageIndexMirror()], lambda _: None)
    message = str(failure.value)
    assert "pypi: pip download failed" in message and "put the verified file" in message
    assert not list((tmp_path / "cache" / "sources").iterdir())
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_source_tarball_is_not_asked_of_the_index(tmp_path):
    tarball = tmp_path / "demo-1.0.tar.gz"
    tarball.write_bytes(b"x")
    source = Source("demo", "1.0", "https://example.org/demo-1.0.tar.gz", 1,
                    hashlib.sha256(b"x").hexdigest(), "upstream", ("MIT",), "LICENSE")  # fmt: skip
    with pytest.raises(BuildError, match="pypi: not a wheel on the package index"):
        fetch_source(source, tmp_path / "cache", [PackageIndexMirror()], lambda _: None)


def test_the_tag_options_select_the_pinned_file():
    ziglang = load_registry()["ziglang"]
    assert ziglang.pypi_file is not None
    assert wheel_tag_arguments(ziglang.pypi_file) == [
        "--platform", "manylinux_2_12_x86_64", "--abi", "none", "--implementation", "py",
    ]  # fmt: skip
    with pytest.raises(BuildError, match="not a wheel file name"):
        wheel_tag_arguments("ziglang.whl")
