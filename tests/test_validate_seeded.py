"""Seed defects into a copy of a real full archive and check `validate` reports each by its rule.

Slow: it needs the end-to-end build's archive (the session fixture ``build`` in conftest.py), or
archives built earlier: ``STANDALONE_PYTHON_E2E_DIST=dist ./run-tests -- -m slow
tests/test_validate_seeded.py``. The archive is unpacked once; each seeded copy shares its
unchanged files by hard link, is repacked quickly (zstd level 1) and validated. Defects that
touch different files share one archive: every seeded (member, rule) must be reported, and
nothing else may be reported (the real archive itself must have no finding).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from pythonbuild.distribution.archive import extract_archive
from pythonbuild.validate import validate_archive
from pythonbuild.validate.cli import main

pytestmark = pytest.mark.slow

Pairs = set[tuple[str, str]]
DT_TEXTREL, DT_RUNPATH = 0x16, 0x1D
DF_BIND_NOW, DF_1_NOW = 0x8, 0x1
EM_AARCH64 = 183
PT_NULL = 0


def _pairs(findings) -> Pairs:
    return {(f.member, f.rule) for f in findings}


@pytest.fixture(scope="module")
def base(build, tmp_path_factory) -> Path:
    """The real archive, unpacked once (its python/ directory)."""
    dest = tmp_path_factory.mktemp("seed-base") / "x"
    extract_archive(build["full"], dest)
    return dest / "python"


@pytest.fixture(scope="module")
def baseline(build) -> Pairs:
    """What the real archive reports: nothing (test_the_real_archive_has_no_findings); the seeded
    tests still subtract it so that one stray finding fails that test, not every test."""
    return _pairs(validate_archive(build["full"]))


def test_the_real_archive_has_no_findings(build):
    lines = [finding.line() for finding in validate_archive(build["full"])]
    assert not lines, "the built archive has findings:\n" + "\n".join(lines)


@pytest.fixture(scope="module")
def doc(base: Path) -> dict:
    return json.loads((base / "PYTHON.json").read_text())


def _copy(base: Path, dest: Path) -> Path:
    """A copy that shares file data by hard link: edit files only through _rewrite."""
    subprocess.run(["cp", "-al", str(base), str(dest)], check=True)
    return dest


def _rewrite(path: Path, change: Callable[[bytes], bytes]) -> None:
    data = change(path.read_bytes())
    mode = path.stat().st_mode
    path.unlink()  # break the hard link to the base tree
    path.write_bytes(data)
    path.chmod(mode)


def _patch(path: Path, offset: int, new: bytes) -> None:
    _rewrite(path, lambda data: data[:offset] + new + data[offset + len(new) :])


def _repack(root: Path, dest: Path, order: tuple[str, ...] = ("PYTHON.json",)) -> Path:
    """``root`` (a python/ directory) as a .tar.zst: the ``order`` entries first, then the rest."""
    first = [root / name for name in order if (root / name).exists()]
    rest = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(directory, name)
            if path not in first and not any(path.is_relative_to(f) for f in first):
                rest.append(path)
    compressor = zstandard.ZstdCompressor(level=1, threads=2)
    with (
        dest.open("wb") as raw,
        compressor.stream_writer(raw) as stream,
        tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in first:
            tar.add(path, f"python/{path.relative_to(root)}")  # recursive for directories
        for path in rest:
            tar.add(path, f"python/{path.relative_to(root)}", recursive=False)
    return dest


def _check(archive: Path, expected: Pairs, baseline: Pairs, copies: dict[str, str] | None = None):
    found = _pairs(validate_archive(archive))
    missing = expected - found
    assert not missing, f"seeded defects not reported: {sorted(missing)}"
    copies = copies or {}
    unexplained = {
        (member, rule)
        for member, rule in found - baseline - expected
        if (copies.get(member), rule) not in baseline
    }
    assert not unexplained, f"reported but not seeded: {sorted(unexplained)}"


# --- ELF helpers: where to write in a file --------------------------------------------------


def _segment_header(path: Path, p_type: str) -> int:
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        for index, segment in enumerate(elf.iter_segments()):
            if segment["p_type"] == p_type:
                return elf["e_phoff"] + index * elf["e_phentsize"]
    raise AssertionError(f"{path.name} has no {p_type}")


def _dynamic_entries(path: Path) -> list[tuple[int, str, int]]:
    """(file offset, d_tag name, d_val) of each dynamic entry (ELF64: 16 bytes each)."""
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        section = next(s for s in elf.iter_sections() if isinstance(s, DynamicSection))
        return [
            (section["sh_offset"] + 16 * i, tag.entry.d_tag, tag.entry.d_val)
            for i, tag in enumerate(section.iter_tags())
        ]


def _dynstr(path: Path) -> tuple[int, bytes]:
    with path.open("rb") as handle:
        section = ELFFile(handle).get_section_by_name(".dynstr")
        return section["sh_offset"], section.data()


def _dynstr_offset(path: Path, text: str) -> int:
    start, data = _dynstr(path)
    position = data.find(b"\0" + text.encode() + b"\0")
    assert position >= 0, f"{text!r} not in {path.name}'s .dynstr"
    return start + position + 1


def _set_tag(path: Path, old_tag: str, new_tag: int) -> bool:
    """Turn the first ``old_tag`` entry into ``new_tag``, keeping its value."""
    for offset, tag, _ in _dynamic_entries(path):
        if tag == old_tag:
            _patch(path, offset, new_tag.to_bytes(8, "little"))
            return True
    return False


# --- the seeded archives ----------------------------------------------------------------------


def _module(doc: dict, name: str) -> str:
    return doc["build_info"]["extensions"][name][0]["shared_lib"]


def test_elf_defects(base, baseline, doc, tmp_path):
    root = _copy(base, tmp_path / "python")
    exe, libpython = doc["python_exe"], doc["build_info"]["core"]["shared_lib"]
    expected: Pairs = set()

    def seeded(path: str, rule: str) -> Path:
        expected.add((f"python/{path}", rule))
        return root / path

    # An executable stack and a text relocation in the interpreter.
    target = seeded(exe, "noexecstack")
    _patch(target, _segment_header(target, "PT_GNU_STACK") + 4, (7).to_bytes(4, "little"))
    assert _set_tag(seeded(exe, "no-textrel"), "DT_DEBUG", DT_TEXTREL)
    # No RELRO in libpython, and an export named like SQLite's.
    target = seeded(libpython, "relro")
    _patch(target, _segment_header(target, "PT_GNU_RELRO"), PT_NULL.to_bytes(4, "little"))
    _, strings = _dynstr(target)
    exported = next(
        name for name in ("PyList_New", "PyDict_New", "PyLong_FromLong")
        if b"\0" + name.encode() + b"\0" in strings
    )  # fmt: skip
    _patch(
        seeded(libpython, "bundled-symbols"),
        _dynstr_offset(target, exported),
        ("sqlite3_" + "x" * (len(exported) - 8)).encode(),
    )
    # Another machine.
    _patch(seeded(_module(doc, "xxlimited"), "elf-machine"), 18, EM_AARCH64.to_bytes(2, "little"))
    # An absolute RUNPATH: libpthread's DT_NEEDED becomes a DT_RUNPATH of a same-length path.
    target = seeded(_module(doc, "_testbuffer"), "runpath")
    _patch(target, _dynstr_offset(target, "libpthread.so.0"), b"/opt/elsewhere/")
    assert _set_tag(target, "DT_NEEDED", DT_RUNPATH)
    # A foreign shared object that needs a library neither the system list nor the archive has.
    source = _module(doc, "xxsubtype")
    foreign = "install/lib/libforeign-user.so"
    shutil.copy2(root / source, root / foreign)
    target = seeded(foreign, "needed-library")
    _patch(target, _dynstr_offset(target, "libpthread.so.0"), b"libforeign.so.1")
    # A GLIBC symbol version newer than the floor (and than PYTHON.json's crt_features).
    target = seeded(_module(doc, "_testcapi"), "glibc-version")
    expected.add(("python/PYTHON.json", "glibc-version"))
    _patch(target, _dynstr_offset(target, "GLIBC_2.2.5"), b"GLIBC_3.0.0")
    # No stack protector, no fortify, no BIND_NOW, in a module that has all three (not one of
    # the modules hardening.yml exempts).
    target = root / _module(doc, "_ctypes_test")
    for rule in ("stack-protector", "fortify", "bind-now"):
        seeded(_module(doc, "_ctypes_test"), rule)
    start, strings = _dynstr(target)
    renamed = strings.replace(b"_chk\0", b"_chq\0").replace(
        b"__stack_chk_fail\0", b"__stack_chq_fail\0"
    )
    _patch(target, start, renamed)
    for offset, tag, value in _dynamic_entries(target):
        if tag in ("DT_FLAGS", "DT_FLAGS_1"):
            bit = DF_BIND_NOW if tag == "DT_FLAGS" else DF_1_NOW
            _patch(target, offset + 8, (value & ~bit).to_bytes(8, "little"))

    archive = _repack(root, tmp_path / "elf-full.tar.zst")
    _check(archive, expected, baseline, copies={f"python/{foreign}": f"python/{source}"})


def test_file_defects(base, baseline, tmp_path):
    root = _copy(base, tmp_path / "python")
    bin_dir = root / "install" / "bin"
    _rewrite(bin_dir / "pip3", lambda d: b"#!/install/bin/python3.13\n" + d.split(b"\n", 1)[1])
    _rewrite(bin_dir / "idle3.13", lambda d: d + b"# configured in /build/Python-3.13\n")
    pc = next(
        p for p in (root / "install" / "lib" / "pkgconfig").glob("python-3.*.pc")
        if not p.is_symlink() and "embed" not in p.name
    )  # fmt: skip
    _rewrite(pc, lambda d: d + b"Libs.private: -L/tools/deps/lib\n")
    (bin_dir / "pydoc3").unlink()
    (bin_dir / "pydoc3").symlink_to("pydoc3.99")
    (bin_dir / "python3").unlink()
    config = next(p.name for p in bin_dir.glob("python3.*-config"))
    (bin_dir / "python3").symlink_to(config)
    (data,) = (root / "install" / "lib").glob("python3.*/_sysconfigdata_*.py")
    _rewrite(data, lambda d: d.replace(b"'/install/lib'", b"'/install' + '/lib'", 1))
    expected = {
        (f"python/{data.relative_to(root)}", "sysconfig-data"),
        ("python/install/bin/pip3", "shebang"),
        ("python/install/bin/idle3.13", "build-path"),
        (f"python/{pc.relative_to(root)}", "build-path"),
        ("python/install/bin/pydoc3", "symlink"),
        ("python/install/bin/python3", "python-commands"),
    }
    _check(_repack(root, tmp_path / "files-full.tar.zst"), expected, baseline)


def test_document_defects(base, baseline, doc, tmp_path):
    root = _copy(base, tmp_path / "python")
    changed = json.loads(json.dumps(doc))
    del changed["build_info"]["extensions"]["_json"]
    # What a cross build's interpreter would say: the build machine's platform, not the target's.
    changed["python_platform_tag"] = "linux-aarch64"
    (root / "PYTHON.json").unlink()
    (root / "PYTHON.json").write_text(json.dumps(changed, indent=4))
    inittab = doc["build_info"]["inittab_object"]
    (root / inittab).unlink()
    (root / "licenses" / "LICENSE.sqlite.txt").unlink()
    # PYTHON.json last instead of first.
    archive = _repack(root, tmp_path / "doc-full.tar.zst", order=("install",))
    expected = {
        ("python/PYTHON.json", "extension-modules"),
        ("python/PYTHON.json", "platform-tag"),
        (f"python/{inittab}", "document-paths"),
        ("python/licenses/LICENSE.sqlite.txt", "licenses"),
        ("python/licenses/LICENSE.sqlite.txt", "document-paths"),
        ("python/install", "layout"),
    }
    _check(archive, expected, baseline)


def test_schema_defect(base, baseline, doc, tmp_path):
    root = _copy(base, tmp_path / "python")
    changed = {**doc, "python_symbol_visibility": 42}
    (root / "PYTHON.json").unlink()
    (root / "PYTHON.json").write_text(json.dumps(changed))
    found = _pairs(validate_archive(_repack(root, tmp_path / "schema-full.tar.zst")))
    assert ("python/PYTHON.json", "schema") in found
    assert found - baseline == {("python/PYTHON.json", "schema")}


def test_inputs_record_defect(base, baseline, tmp_path):
    """A schema-invalid python/build/inputs.json (no steps) is an inputs-record finding."""
    root = _copy(base, tmp_path / "python")
    record = root / "build" / "inputs.json"
    assert json.loads(record.read_text())["steps"], "the real record lists its steps"

    def without_steps(data: bytes) -> bytes:
        return json.dumps({**json.loads(data), "steps": []}, indent=2).encode()

    _rewrite(record, without_steps)
    archive = _repack(root, tmp_path / "inputs-full.tar.zst")
    _check(archive, {("python/build/inputs.json", "inputs-record")}, baseline)


# --- bad input: one error line, exit 1 ---------------------------------------------------------


def _error_line(capsys, *argv: str) -> str:
    code = main([*argv])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 1 and captured.out == "", captured.out[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_damaged_real_archive(build, tmp_path, capsys, damage):
    data = build["full"].read_bytes()
    middle = len(data) // 2
    if damage == "truncate":
        data = data[:middle]
    else:
        data = (
            data[:middle]
            + bytes(b ^ 0x5A for b in data[middle : middle + 4096])
            + data[middle + 4096 :]
        )
    archive = tmp_path / build["full"].name
    archive.write_bytes(data)
    assert "truncated, corrupt or not a tar archive" in _error_line(capsys, str(archive))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("remove", "no python/PYTHON.json"),
        ("version", "unknown PYTHON.json format version '9'"),
        ("target", "unknown target 'mips64-unknown-linux-gnuabi64'"),
    ],
)
def test_bad_document_in_real_archive(base, doc, tmp_path, capsys, change, message):
    root = _copy(base, tmp_path / "python")
    (root / "PYTHON.json").unlink()
    if change == "version":
        (root / "PYTHON.json").write_text(json.dumps({**doc, "version": "9"}))
    elif change == "target":
        (root / "PYTHON.json").write_text(
            json.dumps({**doc, "target_triple": "mips64-unknown-linux-gnuabi64"})
        )
    archive = _repack(root, tmp_path / "bad-full.tar.zst")
    assert message in _error_line(capsys, str(archive))


def test_wrong_expected_target(build, capsys):
    line = _error_line(capsys, "--target", "x86_64_v4-unknown-linux-gnu", str(build["full"]))
    assert "expected x86_64_v4-unknown-linux-gnu" in line
