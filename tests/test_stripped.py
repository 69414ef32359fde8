"""install_only_stripped: the CPython step's debug-stripped ELF files replace the originals."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from pythonbuild.distribution.assemble import install_only_exclude, replace_with_stripped
from pythonbuild.errors import BuildError

ELF = b"\x7fELF" + b"\0" * 60


def _tree(root: Path, files: dict[str, bytes], mode: int = 0o644) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    return root


def test_stripped_files_take_the_place_and_mode_of_the_originals(tmp_path: Path) -> None:
    install = _tree(tmp_path / "install", {"bin/python3.13": ELF + b"debug"}, 0o755)
    _tree(install, {"lib/libpython3.13.so.1.0": ELF + b"debug", "lib/os.py": b"import abc\n"})
    (install / "lib/libpython3.13.so").symlink_to("libpython3.13.so.1.0")
    stripped = _tree(
        tmp_path / "stripped",
        {"bin/python3.13": ELF + b"s1", "lib/libpython3.13.so.1.0": ELF + b"s2"},
        0o600,
    )
    assert replace_with_stripped(install, stripped) == 2
    assert (install / "bin/python3.13").read_bytes() == ELF + b"s1"
    assert (install / "bin/python3.13").stat().st_mode & 0o777 == 0o755
    assert (install / "lib/libpython3.13.so.1.0").read_bytes() == ELF + b"s2"
    assert (install / "lib/libpython3.13.so").is_symlink()
    assert (install / "lib/os.py").read_bytes() == b"import abc\n"


def test_an_elf_file_without_its_stripped_copy_is_refused(tmp_path: Path) -> None:
    install = _tree(tmp_path / "install", {"bin/python3.13": ELF, "lib/x.so": ELF})
    stripped = _tree(tmp_path / "stripped", {"bin/python3.13": ELF})
    with pytest.raises(BuildError, match=r"do not match .*lib/x\.so"):
        replace_with_stripped(install, stripped)
    assert (install / "lib/x.so").read_bytes() == ELF


def test_an_artifact_from_before_stripping_asks_for_a_rebuild(tmp_path: Path) -> None:
    install = _tree(tmp_path / "install", {"bin/python3.13": ELF})
    with pytest.raises(BuildError, match="rebuild it"):
        replace_with_stripped(install, tmp_path / "stripped")


def _doc() -> dict:
    """The PYTHON.json fields install_only_exclude reads."""
    return {
        "python_paths": {"stdlib": "install/lib/python3.13"},
        "python_stdlib_test_packages": ["test", "json.tests"],
        "build_info": {
            "extensions": {
                "_testcapi": [{"shared_lib": "install/lib/python3.13/lib-dynload/_testcapi.so"}],
                "_json": [{"in_core": True}],
            }
        },
    }


@pytest.mark.parametrize(
    ("path", "install_only", "stripped"),
    [
        ("lib/python3.13/json/__pycache__/decoder.cpython-313.pyc", False, False),
        ("lib/python3.13/json/__pycache__/decoder.cpython-313.opt-1.pyc", False, True),
        ("lib/python3.13/json/__pycache__/decoder.cpython-313.opt-2.pyc", False, True),
        ("lib/python3.13/json/decoder.py", False, False),
        ("lib/python3.13/test", True, True),
        ("lib/python3.13/json/tests", True, True),
        ("lib/python3.13/lib-dynload/_testcapi.so", True, True),
        ("lib/libpython3.13.a", True, True),
        ("lib/python3.13/config-3.13-x86_64-linux-gnu/libpython3.13.a", True, True),
        ("lib/libpython3.13.so.1.0", False, False),
    ],
)
def test_what_install_only_and_stripped_leave_out(path: str, install_only: bool, stripped: bool):
    """install_only leaves out tests and the static libpython (as PBS's does); the stripped
    flavour also the bytecode for -O and -OO, and keeps every module's plain .pyc."""
    relative = PurePosixPath(path)
    assert install_only_exclude(_doc())(relative) is install_only
    assert install_only_exclude(_doc(), optimized_bytecode=False)(relative) is stripped
