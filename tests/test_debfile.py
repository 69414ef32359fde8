"""Reading a Debian binary package's files (origin debian-binary in the registry)."""

from __future__ import annotations

import lzma
from dataclasses import replace
from pathlib import Path

import pytest
from tarfiles import tar_bytes

from pythonbuild.distribution import metadata
from pythonbuild.distribution.debfile import open_deb_data
from pythonbuild.errors import BuildError
from pythonbuild.registry import load_registry


def _ar_member(name: str, data: bytes) -> bytes:
    header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
    return header + data + (b"\n" if len(data) % 2 else b"")


def make_deb(path: Path, files: dict[str, bytes], data_name: str = "data.tar.xz") -> Path:
    data = tar_bytes(files)
    if data_name.endswith(".xz"):
        data = lzma.compress(data)
    path.write_bytes(
        b"!<arch>\n"
        + _ar_member("debian-binary", b"2.0\n")
        + _ar_member("control.tar.xz", lzma.compress(tar_bytes({"./control": b"Package: x\n"})))
        + _ar_member(data_name, data)
    )
    return path


def test_data_archive_members_are_read(tmp_path: Path):
    deb = make_deb(tmp_path / "x.deb", {"./usr/include/X11/X.h": b"#define X 11\n"})
    with open_deb_data(deb) as archive:
        assert archive.extractfile("./usr/include/X11/X.h").read() == b"#define X 11\n"


def test_uncompressed_data_archive_odd_sized_members(tmp_path: Path):
    deb = make_deb(tmp_path / "x.deb", {"./a": b"odd"}, data_name="data.tar")
    with open_deb_data(deb) as archive:
        assert archive.extractfile("./a").read() == b"odd"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 not an ar archive", "not a Debian package"),
        (b"!<arch>\n" + _ar_member("debian-binary", b"2.0\n"), "no data.tar"),
        (b"!<arch>\ndebian-binary/   0", "truncated or corrupt"),
        (b"!<arch>\n" + _ar_member("data.tar.xz", b"not xz at all"), "cannot read data.tar.xz"),
    ],
)
def test_broken_packages_give_one_line_errors(tmp_path: Path, content: bytes, message: str):
    deb = tmp_path / "broken.deb"
    deb.write_bytes(content)
    with pytest.raises(BuildError, match=message) as error, open_deb_data(deb):
        pass
    assert "\n" not in str(error.value)


def test_license_of_a_binary_package_comes_from_its_data(tmp_path: Path):
    source = load_registry()["xcb-proto"]
    deb = make_deb(
        tmp_path / source.filename,
        {"./usr/share/doc/xcb-proto/copyright": b"MIT text", "./usr/share/xcb/xproto.xml": b"<x/>"},
    )
    written = metadata.write_licenses(tmp_path / "licenses", [source], lambda s: deb)
    assert written["xcb-proto"].read_bytes() == b"MIT text"
    moved = replace(source, license_file="usr/share/doc/other/copyright")
    with pytest.raises(BuildError, match="license file usr/share/doc/other/copyright not found"):
        metadata.write_licenses(tmp_path / "licenses", [moved], lambda s: deb)
