"""The /out tree a container returns becomes a clean, sorted artifact."""

from __future__ import annotations

import io
import tarfile

from pythonbuild.linux.containers import _input_tar, save_out_tree


def _tar_bytes(entries) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.uid, info.uname = 1000, "builder"
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "link":
                info.type = tarfile.LNKTYPE
                info.linkname = payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def test_out_prefix_is_dropped_sorted_and_owned_by_root(tmp_path):
    raw = _tar_bytes(
        [
            ("out", "dir", None),
            ("out/tools/deps/lib/libz.a", "file", b"archive"),
            ("out/tools/deps/include/zlib.h", "file", b"header"),
            ("out/tools/deps/lib/libz-copy.a", "link", "out/tools/deps/lib/libz.a"),
        ]
    )
    dest = tmp_path / "artifact.tar"
    stream = tmp_path / "out.tar"
    stream.write_bytes(raw)
    save_out_tree(stream, dest)
    with tarfile.open(dest) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        assert "out" not in names and all(not n.startswith("out/") for n in names)
        copy = next(m for m in members if m.name.endswith("libz-copy.a"))
        assert copy.isfile()  # hard links become copies: sorting may put them first
        assert {m.uid for m in members} == {0} and {m.uname for m in members} == {""}
        tar.extractall(tmp_path / "x", filter="tar")
    assert (tmp_path / "x/tools/deps/lib/libz-copy.a").read_bytes() == b"archive"
    assert not list(tmp_path.glob("*.partial"))


def test_input_tar_marks_scripts_executable(tmp_path):
    source = tmp_path / "src.tar.gz"
    source.write_bytes(b"payload")
    data = _input_tar({"/inputs/src.tar.gz": source, "/scripts/build-x.sh": b"#!/bin/sh\n"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
    assert modes["scripts/build-x.sh"] == 0o755
    assert modes["inputs/src.tar.gz"] & 0o111 == 0
