"""Distribution archives: byte-for-byte reproducible, PBS layout, safe and strict to read."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import tarfile
from pathlib import Path

import pytest
import zstandard

from pythonbuild.distribution import archive
from pythonbuild.distribution.archive import (
    FULL_ARCHIVE_GROUPS,
    archive_name,
    extract_archive,
    open_distribution,
    write_distribution_archive,
    write_install_only_archive,
    write_sha256sums,
)
from pythonbuild.errors import BuildError

EPOCH = 1_700_000_000
LONG_NAME = "a_module_with_a_name_long_enough_to_need_a_pax_path_record_" + "x" * 60 + ".py"

# (path relative to the stage, content or None for a directory), in creation order; the tests
# create them in this order and in reverse to show that listing order does not matter.
TREE = [
    ("licenses", None),
    ("licenses/LICENSE.cpython.txt", "PSF"),
    ("build", None),
    ("build/lib", None),
    ("build/lib/libfoo.a", "ar"),
    ("install", None),
    ("install/bin", None),
    ("install/bin/python3.13", "ELF"),
    ("install/lib", None),
    ("install/lib/python3.13", None),
    ("install/lib/python3.13/os.py", "import abc\n"),
    ("install/lib/python3.13/json", None),
    ("install/lib/python3.13/json/__init__.py", "# after json-extra.py in path order\n"),
    ("install/lib/python3.13/json-extra.py", "x = 1\n"),
    (f"install/lib/python3.13/{LONG_NAME}", "long"),
    ("install/lib/python3.13/\u00e9t\u00e9.py", "non-ascii name"),
    ("install/lib/libpython3.13.so.1.0", "ELF"),
    ("install/share", None),
    ("PYTHON.json", '{"version": "8"}'),
]
EXECUTABLES = {"install/bin/python3.13", "install/lib/libpython3.13.so.1.0"}


def make_stage(root: Path, *, reverse: bool = False, umask: int = 0o022, stamp: int = 0) -> Path:
    """The staged ``python/`` tree of a full distribution."""
    old = os.umask(umask)
    try:
        root.mkdir(parents=True)
        for rel, content in reversed(TREE) if reverse else TREE:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                path.mkdir(exist_ok=True)
            else:
                path.write_text(content)
                if rel in EXECUTABLES:
                    path.chmod(0o777 & ~umask)
        (root / "install/bin/python3").symlink_to("python3.13")
        (root / "install/lib/libpython3.13.so").symlink_to("libpython3.13.so.1.0")
        # A hard link is stored as a second regular file.
        os.link(root / "install/bin/python3.13", root / "install/bin/python3.13-hardlink")
        for path in [root, *root.rglob("*")]:
            os.utime(path, (stamp + 12345, stamp + 67890), follow_symlinks=False)
    finally:
        os.umask(old)
    return root


def member_names(path: Path) -> list[str]:
    with open_distribution(path) as tar:
        return [member.name for member in tar]


def members(path: Path) -> list[tarfile.TarInfo]:
    with open_distribution(path) as tar:
        return list(tar)


@pytest.fixture
def stage(tmp_path: Path) -> Path:
    return make_stage(tmp_path / "stage" / "python")


@pytest.mark.parametrize("suffix", [".tar.zst", ".tar.gz"])
def test_archives_are_byte_identical_across_umask_times_and_listing_order(
    tmp_path: Path, suffix: str
) -> None:
    first = make_stage(tmp_path / "one" / "python", umask=0o022, stamp=0)
    second = make_stage(tmp_path / "two" / "python", reverse=True, umask=0o077, stamp=10**9)
    out_one = write_distribution_archive(
        first, tmp_path / f"one{suffix}", group_order=FULL_ARCHIVE_GROUPS, mtime=EPOCH
    )
    out_two = write_distribution_archive(
        second, tmp_path / f"two{suffix}", group_order=FULL_ARCHIVE_GROUPS, mtime=EPOCH
    )
    assert out_one.read_bytes() == out_two.read_bytes()
    other_epoch = write_distribution_archive(
        first, tmp_path / f"three{suffix}", group_order=FULL_ARCHIVE_GROUPS, mtime=EPOCH + 1
    )
    assert other_epoch.read_bytes() != out_one.read_bytes()


def test_zstd_output_does_not_depend_on_the_worker_count(
    stage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # threads=0 is zstd's single-threaded mode, whose frames differ from the others'.
    assert archive.ZSTD_THREADS >= 1
    outputs = []
    for threads in (1, 2, 4):
        monkeypatch.setattr(archive, "ZSTD_THREADS", threads)
        path = tmp_path / f"t{threads}.tar.zst"
        write_distribution_archive(stage, path, group_order=FULL_ARCHIVE_GROUPS, mtime=EPOCH)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_member_order_puts_python_json_first_then_groups(stage: Path, tmp_path: Path) -> None:
    (stage / "zzz-extra").mkdir()
    (stage / "aaa-extra.txt").write_text("not in any group")
    path = write_distribution_archive(
        stage, tmp_path / "full.tar.zst", group_order=FULL_ARCHIVE_GROUPS, mtime=EPOCH
    )
    assert member_names(path) == [
        "python/PYTHON.json",
        "python/install",
        "python/install/bin",
        "python/install/bin/python3",
        "python/install/bin/python3.13",
        "python/install/bin/python3.13-hardlink",
        "python/install/lib",
        "python/install/lib/libpython3.13.so",
        "python/install/lib/libpython3.13.so.1.0",
        "python/install/lib/python3.13",
        f"python/install/lib/python3.13/{LONG_NAME}",
        "python/install/lib/python3.13/json",
        "python/install/lib/python3.13/json-extra.py",
        "python/install/lib/python3.13/json/__init__.py",
        "python/install/lib/python3.13/os.py",
        "python/install/lib/python3.13/\u00e9t\u00e9.py",
        "python/install/share",
        "python/build",
        "python/build/lib",
        "python/build/lib/libfoo.a",
        "python/licenses",
        "python/licenses/LICENSE.cpython.txt",
        # Entries outside the named groups follow, sorted, rather than vanishing.
        "python/aaa-extra.txt",
        "python/zzz-extra",
    ]


def test_member_metadata_is_normalized(stage: Path, tmp_path: Path) -> None:
    path = write_distribution_archive(
        stage, tmp_path / "full.tar.gz", group_order=FULL_ARCHIVE_GROUPS, mtime=EPOCH
    )
    by_name = {member.name: member for member in members(path)}
    for member in by_name.values():
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == EPOCH
        # Only long or non-ASCII names need PAX records; never times or owners.
        assert set(member.pax_headers) <= {"path", "linkpath"}, member.pax_headers
    assert by_name[f"python/install/lib/python3.13/{LONG_NAME}"].pax_headers
    assert by_name["python/install"].isdir() and by_name["python/install"].mode == 0o755
    assert by_name["python/install/bin/python3.13"].mode == 0o755
    assert by_name["python/install/lib/python3.13/os.py"].mode == 0o644
    link = by_name["python/install/bin/python3"]
    assert link.issym() and link.linkname == "python3.13"
    hardlink = by_name["python/install/bin/python3.13-hardlink"]
    assert hardlink.isreg() and hardlink.size == 3 and hardlink.mode == 0o755


def test_gzip_header_has_no_time_and_no_name(stage: Path, tmp_path: Path) -> None:
    path = write_install_only_archive(stage, tmp_path / "named-like-this.tar.gz", mtime=EPOCH)
    header = path.read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] & 0x08 == 0, "FNAME flag set"
    assert header[4:8] == b"\0\0\0\0", "gzip MTIME is not 0"
    assert b"named-like-this" not in path.read_bytes()


def test_install_only_archive_is_the_installation(stage: Path, tmp_path: Path) -> None:
    path = write_install_only_archive(
        stage,
        tmp_path / "io.tar.gz",
        mtime=EPOCH,
        exclude=lambda rel: rel.name.endswith(".a") or rel.as_posix() == "share",
    )
    names = member_names(path)
    assert names[:3] == ["python/bin", "python/bin/python3", "python/bin/python3.13"]
    assert "python/PYTHON.json" not in names
    assert "python/share" not in names
    assert not any(name.startswith("python/install") for name in names)


def test_extract_round_trip(stage: Path, tmp_path: Path) -> None:
    path = write_distribution_archive(
        stage, tmp_path / "full.tar.zst", group_order=FULL_ARCHIVE_GROUPS, mtime=EPOCH
    )
    dest = extract_archive(path, tmp_path / "out")
    root = dest / "python"
    assert (root / "PYTHON.json").read_text() == '{"version": "8"}'
    assert os.readlink(root / "install/bin/python3") == "python3.13"
    assert os.access(root / "install/bin/python3.13", os.X_OK)
    assert (root / "install/lib/python3.13/os.py").stat().st_mtime == EPOCH
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _assert_one_line_error(excinfo: pytest.ExceptionInfo[BuildError], path: Path) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message
    return message


@pytest.mark.parametrize("suffix", [".tar.zst", ".tar.gz"])
@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_archive_is_a_one_line_build_error(
    stage: Path, tmp_path: Path, suffix: str, keep: float
) -> None:
    # Incompressible content makes the archive large enough to cut in meaningful places.
    (stage / "install/blob.bin").write_bytes(os.urandom(300_000))
    good = write_distribution_archive(stage, tmp_path / f"good{suffix}", mtime=EPOCH)
    data = good.read_bytes()
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(BuildError) as excinfo:
        extract_archive(bad, tmp_path / "out")
    message = _assert_one_line_error(excinfo, bad)
    assert "truncated" in message
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("suffix", [".tar.zst", ".tar.gz"])
def test_corrupt_archive_is_a_one_line_build_error(
    stage: Path, tmp_path: Path, suffix: str
) -> None:
    (stage / "install/blob.bin").write_bytes(os.urandom(100_000))
    path = write_distribution_archive(stage, tmp_path / f"x{suffix}", mtime=EPOCH)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BuildError) as excinfo, open_distribution(path) as tar:
        for member in tar:
            if member.isreg():
                tar.extractfile(member).read()  # type: ignore[union-attr]
    _assert_one_line_error(excinfo, path)


def test_not_a_tar_and_not_compressed_are_build_errors(tmp_path: Path) -> None:
    not_tar = tmp_path / "text.tar.zst"
    not_tar.write_bytes(zstandard.ZstdCompressor().compress(b"hello, not a tar file" * 100))
    not_zstd = tmp_path / "plain.tar.zst"
    not_zstd.write_bytes(b"PK\x03\x04 a zip file")
    not_gzip = tmp_path / "plain.tar.gz"
    not_gzip.write_bytes(b"")
    for path, words in ((not_tar, "not a tar"), (not_zstd, "not a zstd"), (not_gzip, "not a gzip")):
        with pytest.raises(BuildError) as excinfo:
            extract_archive(path, tmp_path / "out")
        assert words in _assert_one_line_error(excinfo, path)
    with pytest.raises(BuildError, match=r"unsupported archive type"):
        extract_archive(tmp_path / "x.zip", tmp_path / "out")
    with pytest.raises(BuildError, match=r"cannot open archive"):
        extract_archive(tmp_path / "missing.tar.gz", tmp_path / "out")


def _hostile_archive(path: Path, *entries: tuple[str, str, str | None]) -> Path:
    """A .tar.gz of (kind, name, link target) entries, written without our safety checks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, target in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = 2
                tar.addfile(info, io.BytesIO(b"hi"))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE}[
                kind
            ]
            info.linkname = target or ""
            tar.addfile(info)
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return path


@pytest.mark.parametrize(
    "entries",
    [
        [("file", "python/ok", None), ("file", "../evil", None)],
        [("file", "/tmp/evil-absolute", None)],
        [("file", "python/../../evil", None)],
        [("sym", "python/link", "../../outside")],
        [("sym", "python/link", "/etc")],
        [("hard", "python/hard", "../outside")],
        # A symlink that stays inside, followed by a path through it that would not.
        [("sym", "python/here", "."), ("sym", "python/here/up", "../x")],
        [("sym", "python/sub", "."), ("file", "python/sub/file", None)],
    ],
)
def test_path_traversal_is_refused(tmp_path: Path, entries: list) -> None:
    path = _hostile_archive(tmp_path / "hostile.tar.gz", *entries)
    dest = tmp_path / "area" / "out"
    with pytest.raises(BuildError, match=r"refus") as excinfo:
        extract_archive(path, dest)
    _assert_one_line_error(excinfo, path)
    assert not dest.exists()
    assert sorted(p.name for p in (tmp_path / "area").iterdir()) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "outside").exists()


def test_extract_refuses_a_non_empty_destination(stage: Path, tmp_path: Path) -> None:
    path = write_distribution_archive(stage, tmp_path / "a.tar.gz", mtime=EPOCH)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("x")
    with pytest.raises(BuildError, match=r"not an empty directory"):
        extract_archive(path, tmp_path / "out")


def test_failed_write_leaves_no_archive_and_no_temporary_file(stage: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    dest = dist / "full.tar.zst"
    # A FIFO late in the member order fails the write after much has been written.
    os.mkfifo(stage / "licenses" / "zz-fifo")
    with pytest.raises(BuildError, match=r"special files"):
        write_distribution_archive(stage, dest, group_order=FULL_ARCHIVE_GROUPS, mtime=EPOCH)
    assert list(dist.iterdir()) == []
    # An existing archive survives a failed rewrite untouched.
    dest.write_bytes(b"previous")
    with pytest.raises(BuildError):
        write_distribution_archive(stage, dest, group_order=FULL_ARCHIVE_GROUPS, mtime=EPOCH)
    assert list(dist.iterdir()) == [dest]
    assert dest.read_bytes() == b"previous"


def test_interrupted_write_cleans_up(tmp_path: Path) -> None:
    dest = tmp_path / "x.bin"
    with pytest.raises(KeyboardInterrupt), archive.atomic_output(dest) as out:
        out.write(b"partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_symlinks_leaving_the_tree_are_refused_when_writing(stage: Path, tmp_path: Path) -> None:
    (stage / "install/bin/escape").symlink_to("../../../elsewhere")
    with pytest.raises(BuildError, match=r"points outside"):
        write_distribution_archive(stage, tmp_path / "x.tar.gz", mtime=EPOCH)
    (stage / "install/bin/escape").unlink()
    (stage / "install/bin/absolute").symlink_to("/install/bin/python3.13")
    with pytest.raises(BuildError, match=r"absolute"):
        write_distribution_archive(stage, tmp_path / "x.tar.gz", mtime=EPOCH)


def test_sha256sums_format_merge_and_update(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "b.tar.gz").write_bytes(b"bee")
    (dist / "a.tar.zst").write_bytes(b"ay")
    sums = write_sha256sums(dist, [dist / "b.tar.gz", "a.tar.zst"])
    lines = sums.read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == ["a.tar.zst", "b.tar.gz"]
    assert all(re.fullmatch(r"[0-9a-f]{64}  \S+", line) for line in lines)
    assert lines[0] == f"{hashlib.sha256(b'ay').hexdigest()}  a.tar.zst"
    assert lines[1] == f"{hashlib.sha256(b'bee').hexdigest()}  b.tar.gz"
    # A later call for another file keeps the earlier entries; a changed file is updated.
    (dist / "c.tar.gz").write_bytes(b"sea")
    (dist / "a.tar.zst").write_bytes(b"changed")
    write_sha256sums(dist, ["c.tar.gz", "a.tar.zst"])
    entries = dict(reversed(line.split("  ")) for line in sums.read_text().splitlines())
    assert list(entries) == ["a.tar.zst", "b.tar.gz", "c.tar.gz"]
    assert entries["a.tar.zst"] == hashlib.sha256(b"changed").hexdigest()
    # Entries for files that are gone are dropped.
    (dist / "b.tar.gz").unlink()
    write_sha256sums(dist, ["c.tar.gz"])
    assert [line.split("  ")[1] for line in sums.read_text().splitlines()] == [
        "a.tar.zst",
        "c.tar.gz",
    ]
    assert sorted(p.name for p in dist.iterdir()) == ["SHA256SUMS", "a.tar.zst", "c.tar.gz"]
    with pytest.raises(ValueError):
        write_sha256sums(dist, [tmp_path / "elsewhere.tar.gz"])


def test_malformed_sha256sums_is_a_build_error(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "SHA256SUMS").write_text("not a checksum line\n")
    with pytest.raises(BuildError, match=r"SHA256SUMS:1"):
        write_sha256sums(tmp_path, ["a"])


def test_archive_names_follow_pbs() -> None:
    common = {
        "python_version": "3.13.1",
        "release_tag": "20250101",
        "triple": "x86_64-unknown-linux-gnu",
    }
    assert (
        archive_name(**common, options="pgo+lto")
        == "cpython-3.13.1+20250101-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst"
    )
    # PBS's plain install_only names belong to the pgo+lto builds it publishes ...
    assert (
        archive_name(**common, options="pgo+lto", flavor="install_only")
        == "cpython-3.13.1+20250101-x86_64-unknown-linux-gnu-install_only.tar.gz"
    )
    assert (
        archive_name(**common, options="freethreaded+pgo+lto", flavor="install_only_stripped")
        == "cpython-3.13.1+20250101-x86_64-unknown-linux-gnu-freethreaded-install_only_stripped.tar.gz"
    )
    # ... any other build says what it is, so it never passes for (or overwrites) those.
    assert (
        archive_name(**common, options="noopt", flavor="install_only")
        == "cpython-3.13.1+20250101-x86_64-unknown-linux-gnu-noopt-install_only.tar.gz"
    )
    assert (
        archive_name(**common, options="freethreaded+debug", flavor="install_only")
        == "cpython-3.13.1+20250101-x86_64-unknown-linux-gnu-freethreaded+debug-install_only.tar.gz"
    )
    with pytest.raises(ValueError):
        archive_name(**{**common, "release_tag": "2025-01-01"}, options="noopt")
    with pytest.raises(ValueError):
        archive_name(**common, options="noopt", flavor="zip")
