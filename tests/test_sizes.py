"""``python -m pythonbuild sizes``: where an archive's bytes go, and the recorded sizes a build's
archives are held to."""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import pytest
import yaml
from tarfiles import tar_bytes

from pythonbuild.errors import BuildError
from pythonbuild.validate import sizes
from pythonbuild.validate.sizes import (
    SizeRecord,
    archive_key,
    check_archive_sizes,
    part_of,
    read_sizes,
    render_report,
    size_problems,
)
from pythonbuild.validate.sizes_cli import main

STRIPPED = "cpython-3.13.15+20261207-x86_64-unknown-linux-gnu-noopt-install_only_stripped.tar.gz"


@pytest.mark.parametrize(
    ("path", "part"),
    [("bin/python3.13", "interpreter (bin/)"),
     ("lib/libpython3.13.so.1.0", "libpython"),
     ("lib/python3.13/test/test_os.py", "the test suite (test/)"),
     ("lib/python3.13/json/__pycache__/decoder.cpython-313.opt-2.pyc", "bytecode (__pycache__)"),
     ("lib/python3.13/json/decoder.py", "standard library sources (.py)"),
     ("lib/python3.13/lib-dynload/_testcapi.cpython-313-x86_64-linux-gnu.so",
      "extension modules (lib-dynload)"),
     ("lib/python3.13/site-packages/pip/__init__.py", "site-packages (pip)"),
     ("lib/tcl8.6/init.tcl", "Tcl/Tk script libraries"),
     ("build/lib/libssl.a", "objects and static libraries for relinking (build/)"),
     ("PYTHON.json", "other")],
)  # fmt: skip
def test_each_member_belongs_to_one_part_of_the_installation(path: str, part: str) -> None:
    assert part_of(path) == part


def _archive(directory: Path, members: dict[str, bytes], name: str = STRIPPED) -> Path:
    path = directory / name
    path.write_bytes(gzip.compress(tar_bytes(members), mtime=0))
    return path


def _program() -> bytes:
    return Path(sys.executable).resolve().read_bytes()


def test_the_parts_add_up_to_the_archive_and_the_largest_elf_file_is_opened(tmp_path) -> None:
    program = _program()
    archive = _archive(tmp_path, {
        "python/bin/python3.13": program,
        "python/lib/python3.13/os.py": b"import sys\n" * 5000,
        "python/lib/python3.13/test/test_os.py": os.urandom(20000),
    })  # fmt: skip
    report = read_sizes(archive)
    parts = {name: (size, compressed, count) for name, size, compressed, count in report.parts()}
    assert parts["interpreter (bin/)"][0] == len(program)
    assert parts["the test suite (test/)"][2] == 1
    assert sum(compressed for _, compressed, _ in parts.values()) == pytest.approx(
        archive.stat().st_size, rel=1e-6
    )
    # Random bytes do not compress: the test file is at least its own size in the archive.
    assert parts["the test suite (test/)"][1] > parts["standard library sources (.py)"][1]
    assert [elf.path for elf in report.elf_files] == ["bin/python3.13"]
    names = [name for name, _, _ in report.elf_files[0].sections]
    assert ".text" in names
    text = render_report(report, top=5)
    assert "interpreter (bin/)" in text and "sections of bin/python3.13" in text


def test_an_archive_that_grew_past_the_margin_is_a_problem(tmp_path) -> None:
    archive = _archive(tmp_path, {"python/bin/python3.13": os.urandom(50_000)})
    size, key = archive.stat().st_size, archive_key(archive)
    assert key == "x86_64-unknown-linux-gnu 3.13 noopt install_only_stripped"
    assert size_problems([archive], SizeRecord(0.03, {})) == []  # not recorded: no figure
    assert size_problems([archive], SizeRecord(0.03, {key: int(size / 1.02)})) == []
    (problem,) = size_problems([archive], SizeRecord(0.03, {key: int(size / 1.05)}))
    assert problem.startswith(f"{STRIPPED}: ") and "5.0% over" in problem and "--record" in problem


def test_record_then_check_passes_and_growth_fails_the_build(tmp_path, monkeypatch) -> None:
    record = tmp_path / "archive-sizes.yml"
    monkeypatch.setattr(sizes, "RECORD_PATH", record)
    archive = _archive(tmp_path, {"python/bin/python3.13": os.urandom(50_000)})
    assert main(["--record", str(archive)]) == 0
    written = yaml.safe_load(record.read_text())
    assert written["sizes"] == {archive_key(archive): archive.stat().st_size}
    assert main([str(archive)]) == 0
    check_archive_sizes([archive, tmp_path / "SHA256SUMS"])
    _archive(tmp_path, {"python/bin/python3.13": os.urandom(60_000)})  # the same name, larger
    with pytest.raises(BuildError, match=r"larger than archive-sizes\.yml allows"):
        check_archive_sizes([archive])
    assert main([str(archive)]) == 1


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    assert main([str(tmp_path / STRIPPED)]) == 2
    assert "no such file" in capsys.readouterr().err
    other = tmp_path / "python.tar.gz"
    other.write_bytes(b"")
    assert main([str(other)]) == 2
    err = capsys.readouterr().err
    assert "name a distribution archive" in err and err.strip().count("\n") == 0
