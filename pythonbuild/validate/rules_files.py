"""Rules on plain files: build paths in shebangs, pkg-config files and scripts; symlinks; the
``python``/``python3`` commands."""

from __future__ import annotations

import filecmp
import os
import re
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

from ..distribution.relocate import installer_format_problem
from ..paths import ROOT
from .data import allowed_build_paths, build_path_prefixes
from .findings import Distribution, Finding

# Where a relocatable script may find its interpreter: system programs only, since the
# distribution's own directory is unknown until it is unpacked.
SYSTEM_INTERPRETERS = ("/bin/sh", "/bin/bash", "/usr/bin/env")
_MAX_TEXT = 1 << 20  # scripts and .pc files are small; a larger file is data, not a script


def _build_path_pattern() -> re.Pattern[str]:
    prefixes = [*build_path_prefixes(), str(ROOT)]
    # A path that starts there: at the start of a word, after a quote, `#!`, `=`, `:` or a compiler
    # option (-L/tools/...), and ending the component (/install or /install/...); not
    # /usr/install or ${prefix}/build.
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    start = r"""(?:^|(?<=[\s"'=:,;(`!])|(?<=-[A-Za-z]))"""
    return re.compile(rf"{start}(?:{alternatives})(?![\w.-])")


def check(dist: Distribution) -> list[Finding]:
    return [
        *_build_paths(dist),
        *_symlinks(dist),
        *_python_commands(dist),
        *_sysconfig_data(dist),
    ]


def _read_text(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_TEXT:
        return None
    data = path.read_bytes()
    if b"\0" in data:
        return None  # binary
    return data.decode("utf-8", errors="replace")


def _is_allowed(relative: str, line: str) -> bool:
    return any(
        fnmatch(relative, allowed.member_glob) and line.strip() == allowed.line
        for allowed in allowed_build_paths()
    )


def _build_paths(dist: Distribution) -> Iterator[Finding]:
    pattern = _build_path_pattern()
    install = dist.install
    for path in sorted(install.rglob("*")):
        relative = path.relative_to(install).as_posix()
        in_bin = relative.startswith("bin/")
        is_pc = path.suffix == ".pc"
        if path.is_symlink() or not path.is_file():
            continue
        if not (in_bin or is_pc):
            # Elsewhere only the shebang matters; read two bytes before the whole file.
            with path.open("rb") as handle:
                if handle.read(2) != b"#!":
                    continue
        text = _read_text(path)
        if text is None:
            continue
        lines = text.splitlines()
        if lines and lines[0].startswith("#!"):
            yield from _shebang(dist, path, lines[0], pattern, in_bin)
        # Whole-file checks for scripts under bin/ and pkg-config files.
        if in_bin or is_pc:
            kind = "pkg-config file" if is_pc else "script"
            start = 1 if lines and lines[0].startswith("#!") else 0  # the shebang: above
            for number, line in enumerate(lines[start:], start=start + 1):
                match = pattern.search(line)
                if match and not _is_allowed(relative, line):
                    yield Finding(
                        dist.member(path),
                        "build-path",
                        f"{match.group(0)} in line {number} of a {kind}: {line.strip()[:120]!r}",
                        "paths relative to the file's own location (no build-time paths)",
                    )


def _shebang(
    dist: Distribution, path: Path, line: str, pattern: re.Pattern[str], in_bin: bool
) -> Iterator[Finding]:
    words = line[2:].split()
    program = words[0] if words else ""
    match = pattern.search(line)
    if match:
        yield Finding(
            dist.member(path),
            "shebang",
            f"build path {match.group(0)} in {line.strip()!r}",
            "no build-time path in a shebang",
        )
    elif in_bin and program not in SYSTEM_INTERPRETERS:
        yield Finding(
            dist.member(path),
            "shebang",
            f"{line.strip()!r}",
            f"a system interpreter ({', '.join(SYSTEM_INTERPRETERS)}) for commands in bin/",
        )


def _symlinks(dist: Distribution) -> Iterator[Finding]:
    # The archive reader already refused links that leave the archive; here: links whose
    # target is not in it.
    for path in sorted(dist.root.rglob("*")):
        if path.is_symlink() and not path.exists():
            yield Finding(
                dist.member(path),
                "symlink",
                f"a dangling symlink to {os.readlink(path)!r}",
                "symlinks to members of the archive",
            )


def _same_program(path: Path, interpreter: Path) -> bool:
    # The free-threaded install has python3.X next to python3.Xt, the same executable (a hard
    # link in CPython's install, a copy in the archive); python3 pointing at it is fine.
    return path == interpreter or (
        interpreter.is_file() and filecmp.cmp(path, interpreter, shallow=False)
    )


def _python_commands(dist: Distribution) -> Iterator[Finding]:
    """``python`` and ``python3`` in bin/ are the interpreter PYTHON.json names (PBS ships
    both; installers such as uv run bin/python)."""
    exe_key = dist.doc.get("python_exe")
    if not isinstance(exe_key, str):
        return  # reported by the schema rule
    interpreter = dist.doc_path(exe_key)
    bin_dir = interpreter.parent
    for name in ("python", "python3"):
        command = bin_dir / name
        if not (command.exists() or command.is_symlink()):
            found = "no such file"
        elif not command.exists():
            continue  # a dangling link: reported by the symlink rule
        elif _same_program(command.resolve(), interpreter.resolve()):
            continue
        else:
            found = f"it resolves to {command.resolve().relative_to(dist.root.resolve())}"
        yield Finding(
            dist.member(command),
            "python-commands",
            found,
            f"a symlink to the interpreter {exe_key.removeprefix('install/bin/')}",
        )


def _sysconfig_data(dist: Distribution) -> Iterator[Finding]:
    """Installers (uv) read ``_sysconfigdata_*.py`` as data and refuse the whole distribution
    when it is anything else (docs/architecture.md, "Relocation")."""
    for path in sorted(dist.install.glob("lib/python3*/_sysconfigdata_*.py")):
        problem = installer_format_problem(path.read_text(encoding="utf-8", errors="replace"))
        if problem:
            yield Finding(
                dist.member(path),
                "sysconfig-data",
                problem,
                "the header line, then build_time_vars = {...} of string and integer literals",
            )
