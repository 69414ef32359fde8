"""Make a staged CPython installation relocatable, with nothing left for the user to patch.

CPython is built with ``--prefix=/install`` inside the build container, so after ``make install``
its text files name ``/install`` and the build-only toolchain (clang under ``/tools``, the
``/sysroot``, libraries in ``/tools/deps``).  This module rewrites, in a staged copy of the
installation:

* ``lib/python3.X/_sysconfigdata_*.py``: plain data that installers can read and rewrite, then
  code that moves the values under the prefix to the module's own location at import time;
  compiler settings are made usable on a user's machine;
* ``build-details.json`` (3.14+): paths become relative, as PEP 739 allows;
* ``_sysconfig_vars_*.json`` (3.14+), ``config-3.X-*/Makefile`` and ``bin/python3.X-config``:
  compiler settings only (see the notes on each);
* scripts in ``bin/`` whose shebang names the build prefix: a ``/bin/sh`` trampoline that runs
  the interpreter next to the script's real location;
* ``lib/pkgconfig/*.pc``: ``prefix`` relative to ``${pcfiledir}``.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BuildError

BUILD_PREFIX = "/install"

# Directories that exist only inside the build container (/build-python: the build interpreter
# of a machine that cannot run target code); a path under one of them is useless
# (or misleading) on a user's machine.
BUILD_ONLY_ROOTS = ("/tools", "/build", "/build-python", "/sysroot")

# Config variables whose value starts with a command (the rest are flags).
COMMAND_VARIABLES = frozenset(
    {"CC", "CXX", "MAINCC", "LINKCC", "CPP", "LDSHARED", "LDCXXSHARED", "BLDSHARED", "AR"}
)

# The build's tools -> what a user's system calls them.  Matched against the command's file
# name, so ``/tools/llvm/bin/clang-19`` is covered too.  First match wins.  target-clang and
# target-clang++ are the build image's wrappers around clang (build.Dockerfile.j2).
TOOL_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    (r"target-clang\+\+", "c++"),
    (r"target-clang", "cc"),
    (r"clang\+\+(-\d+)?", "c++"),
    (r"clang(-\d+)?", "cc"),
    (r"llvm-ar(-\d+)?", "ar"),
)

# Single words removed from flag lists: they only make sense with the build's toolchain.
DROPPED_FLAGS: tuple[str, ...] = (
    r"--sysroot=.*",
    r"-isysroot=.*",
    r"-fuse-ld=lld",
    r"--target=.*",  # clang's cross-compilation switch; gcc rejects it
    r"-f(file|debug|macro|profile)-prefix-map=.*",
)

# Flags that take their argument as the next word; both words go when the argument is a
# build-only path (e.g. ``-isystem /tools/deps/include``, ``--sysroot /sysroot``).
FLAGS_WITH_SEPARATE_ARGUMENT = frozenset(
    {"-I", "-L", "-B", "-isystem", "-idirafter", "-iquote", "-isysroot", "--sysroot"}
)

# python3.X-config variables that hold compiler flags (the script finds its own prefix at run
# time, see Misc/python-config.sh.in, so its prefix lines stay as they are).
PYTHON_CONFIG_FLAG_VARIABLES = frozenset(
    {"CFLAGS", "LIBS", "LIBS_EMBED", "BASECFLAGS", "LINKFORSHARED", "OPT", "LIBM", "LIBC"}
)

# Lines allowed to keep the build prefix because the file replaces it when it runs:
# (glob on the path relative to the installation, regex matching the whole line, where
# {prefix} stands for the escaped build prefix).  Only a lone prefix path is allowed, so a
# leftover /tools flag on such a line is still reported.
RUN_TIME_RESOLVED_LINES: tuple[tuple[str, str], ...] = (
    ("bin/python*-config", r'(exec_)?prefix(_build)?="{prefix}"'),
    (
        "bin/python*-config",
        r'\w+=\$\(echo "{prefix}(/[^"\s]*)?" \| sed "s#\$\w+#\$prefix_real#"\)',
    ),
)

DEFAULT_NEEDLES = ("/install", "/tools/", "/build/", "/build-python/", "/sysroot")

_RELOCATED_MARKER = "# Relocatable: rewritten by standalone-python."
_SHELL_NAME_RE = re.compile(r"[A-Za-z0-9._+/-]+")


@dataclass(frozen=True)
class Change:
    """One file the relocation rewrote or removed, relative to the installation root."""

    path: Path
    description: str

    def __str__(self) -> str:
        return f"{self.path}: {self.description}"


# ---------------------------------------------------------------------------------------------
# Flag sanitizing


def _is_build_only_path(word: str) -> bool:
    """True for a word that is, or passes to a flag, a path under a build-only root."""
    roots = "|".join(re.escape(root) for root in BUILD_ONLY_ROOTS)
    # The path may start the word, follow '=', ',' or ':' (-Wl,-rpath,/x  --with-x=/x  a:/x),
    # or follow a short flag (-I/x, -L/x, -isystem/x).
    return re.search(rf"(?:^|[=,:]|^-[A-Za-z]+)(?:{roots})(?:/|$)", word) is not None


def _is_dropped_flag(word: str) -> bool:
    return any(re.fullmatch(pattern, word) for pattern in DROPPED_FLAGS)


def _replace_tool(word: str) -> str:
    name = word.rsplit("/", 1)[-1]
    for pattern, replacement in TOOL_REPLACEMENTS:
        if re.fullmatch(pattern, name):
            return replacement
    return word


def sanitize_flags(value: str, *, command: bool = False) -> str:
    """``value`` without build-only flags and paths; with ``command``, its tool renamed too.

    An unchanged value is returned as is; a changed one is re-joined with single spaces.
    """
    words = value.split()
    if command and words:
        words[0] = _replace_tool(words[0])
    kept: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else None
        if word in FLAGS_WITH_SEPARATE_ARGUMENT and following and _is_build_only_path(following):
            index += 2
            continue
        if not (_is_dropped_flag(word) or _is_build_only_path(word)):
            kept.append(word)
        index += 1
    return value if kept == value.split() else " ".join(kept)


def sanitize_configure_args(value: str) -> str:
    """CONFIG_ARGS (``'--prefix=/install' 'CC=clang-19' ...``): sanitize each argument."""
    try:
        args = shlex.split(value)
    except ValueError:
        return sanitize_flags(value)
    kept = []
    for arg in args:
        name, equals, rhs = arg.partition("=")
        if equals and re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            cleaned = sanitize_flags(rhs, command=name in COMMAND_VARIABLES)
            if cleaned or not rhs:
                kept.append(f"{name}={cleaned}")
        elif not (_is_dropped_flag(arg) or _is_build_only_path(arg)):
            kept.append(arg)
    if kept == args:
        return value
    # configure records every argument in single quotes; keep that style.
    return " ".join("'" + arg.replace("'", "'\\''") + "'" for arg in kept)


def sanitize_config_value(name: str, value: str) -> str:
    """The user-facing form of the config variable ``name``."""
    if name == "CONFIG_ARGS":
        return sanitize_configure_args(value)
    return sanitize_flags(value, command=name in COMMAND_VARIABLES)


def sanitize_config_vars(config: dict[str, Any]) -> dict[str, Any]:
    return {
        name: sanitize_config_value(name, value) if isinstance(value, str) else value
        for name, value in config.items()
    }


# ---------------------------------------------------------------------------------------------
# _sysconfigdata
#
# Installers (uv, and tools that follow it) read this module as data, not as Python: the first
# line must be SYSCONFIGDATA_HEADER, the next statement ``build_time_vars = {`` with only string
# and integer literals as values; they replace the build prefix /install with where they
# unpacked the tree and write the dict back on its own.  So the dict keeps the build prefix,
# and the code that moves it to the real location comes after the dict, where such a reader
# stops: an archive that is only unpacked relocates itself at import time, and one that an
# installer rewrote keeps the installer's values.

SYSCONFIGDATA_HEADER = "# system configuration generated and used by the sysconfig module"


def _prefix_pattern(build_prefix: str) -> re.Pattern[str]:
    # The prefix counts where a path can start: at the start, after whitespace or one of
    # = , : ; ' " (, or after a short flag such as -I or -L; and only as a whole path
    # component, so /installer, /opt/install and ./install (the Makefile's WASM_ASSETS_DIR,
    # a path inside a WebAssembly bundle) are left alone.
    return re.compile(
        r"(?:^|(?<=[\s=,:;'\"(]))(?P<flag>-[A-Za-z]+)?"
        + re.escape(build_prefix)
        + r"(?=[/\s:;,'\")]|$)"
    )


def prefixed_names(config: dict[str, Any], build_prefix: str) -> list[str]:
    """Names of the string values that hold a path under ``build_prefix``, sorted.

    Every occurrence of the prefix text in such a value must be such a path: the import-time
    relocation replaces the text, so a value that also holds it as part of another word
    (``/installer``) would be damaged, and is refused instead.
    """
    pattern = _prefix_pattern(build_prefix)
    names = []
    for name, value in config.items():
        if not isinstance(value, str):
            continue
        paths = len(pattern.findall(value))
        if paths and paths != value.count(build_prefix):
            raise BuildError(
                f"sysconfig variable {name} holds {build_prefix!r} both as a path and inside "
                f"another word ({value!r}); relocation cannot tell them apart"
            )
        if paths:
            names.append(name)
    return sorted(names)


def _installer_literal(name: str, value: Any) -> str:
    """``repr(value)``, checked to be a literal that installers' readers understand."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BuildError(f"sysconfig variable {name} is a {type(value).__name__}, not str or int")
    if isinstance(value, int) and not -(2**31) < value < 2**31:
        raise BuildError(f"sysconfig variable {name} = {value} does not fit a 32-bit integer")
    text = repr(value)
    # Readers of this format know no escapes but \\, \' and \".
    if re.search(r"\\[^\\'\"]", text.replace("\\\\", "")):
        raise BuildError(f"sysconfig variable {name} needs an escape sequence: {text}")
    return text


_RELOCATION_CODE = """\
# Relocatable: rewritten by standalone-python.
# build_time_vars above is plain data naming the installation prefix as built, {build_prefix!r},
# which installers rewrite in place.  Where nobody did, the values that are paths under that
# prefix are moved here to this installation's real location, found from this file's own path
# ({depth} directories below the prefix).  abspath (not realpath) keeps the result equal to
# sys.prefix, which the interpreter also derives without resolving symlinks in the
# installation's own directories.


def _follow_installation(names, built_prefix):
    import os

    prefix = os.path.abspath(__file__)
    for _ in range({depth}):
        prefix = os.path.dirname(prefix)
    if prefix == built_prefix:
        return
    for name in names:
        value = build_time_vars.get(name)
        if isinstance(value, str):
            build_time_vars[name] = value.replace(built_prefix, prefix)


_follow_installation(
    (
{names}
    ),
    {build_prefix!r},
)
del _follow_installation
"""


def render_sysconfigdata(config: dict[str, Any], *, depth: int, build_prefix: str) -> str:
    """Source of a _sysconfigdata module that installers can parse and that relocates itself.

    ``depth`` is how many directories the module sits below the prefix (3 for
    ``lib/python3.X/_sysconfigdata_*.py``).  Keys are sorted and values use repr(), so equal
    input gives equal bytes.
    """
    lines = [SYSCONFIGDATA_HEADER, "build_time_vars = {"]
    lines += [f"    {name!r}: {_installer_literal(name, config[name])}," for name in sorted(config)]
    lines += ["}", "", ""]
    names = "\n".join(f"        {name!r}," for name in prefixed_names(config, build_prefix))
    code = _RELOCATION_CODE.format(build_prefix=build_prefix, depth=depth, names=names)
    return "\n".join(lines) + code


def installer_format_problem(source: str) -> str | None:
    """Why installers cannot read this _sysconfigdata source as data, or None if they can.

    The rules: the header line, then ``build_time_vars = {`` as the next statement, a dict
    whose keys are strings and whose values are string or integer literals.
    """
    first, _, rest = source.partition("\n")
    if first != SYSCONFIGDATA_HEADER:
        return f"the first line is not {SYSCONFIGDATA_HEADER!r}"
    if not re.match(r"build_time_vars\s*=\s*\{", rest):
        return "the second line does not start 'build_time_vars = {'"
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"not valid Python ({exc.msg}, line {exc.lineno})"
    assignment = tree.body[0] if tree.body else None
    if not (isinstance(assignment, ast.Assign) and isinstance(assignment.value, ast.Dict)):
        return "build_time_vars is not assigned a dict display"
    for key, value in zip(assignment.value.keys, assignment.value.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return f"a key on line {value.lineno} is not a string literal"
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
            value = value.operand
        if not (isinstance(value, ast.Constant) and type(value.value) in (str, int)):
            return f"the value of {key.value!r} is not a string or integer literal"
    return None


def _load_build_time_vars(path: Path) -> dict[str, Any] | None:
    """The dict literal assigned to build_time_vars, without running the module."""
    source = path.read_text(encoding="utf-8")
    if _RELOCATED_MARKER in source:
        return None
    try:
        tree = ast.parse(source, filename=str(path))
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "build_time_vars"
            ):
                value = ast.literal_eval(node.value)
                if isinstance(value, dict):
                    return value
    except (SyntaxError, ValueError) as exc:
        raise BuildError(f"{path}: cannot read build_time_vars ({exc})") from None
    raise BuildError(f"{path}: no 'build_time_vars = {{...}}' dict literal found")


# Where the relocation checks import a _sysconfigdata module from: any directory but the prefix.
_PROBE_PREFIX = "/relocation-probe/python"


def evaluate_sysconfigdata(source: str, module_path: str) -> dict[str, Any]:
    """build_time_vars as the module computes it when imported from ``module_path``."""
    namespace: dict[str, Any] = {"__file__": module_path, "__name__": "_sysconfigdata_check"}
    exec(compile(source, module_path, "exec"), namespace)  # our own generated code
    return namespace["build_time_vars"]


def relocate_sysconfigdata(path: Path, root: Path, build_prefix: str = BUILD_PREFIX) -> bool:
    """Rewrite one _sysconfigdata module; False if it was already relocatable."""
    config = _load_build_time_vars(path)
    if config is None:
        return False
    sanitized = sanitize_config_vars(config)
    rel = path.relative_to(root)
    source = render_sysconfigdata(sanitized, depth=len(rel.parts), build_prefix=build_prefix)
    problem = installer_format_problem(source)
    if problem:
        raise BuildError(f"{path}: installers could not read the relocated file: {problem}")
    # Imported where it was built, the new module must give back exactly the sanitized values,
    # and imported elsewhere, those values with the prefix moved: proof that nothing was lost.
    if evaluate_sysconfigdata(source, f"{build_prefix}/{rel.as_posix()}") != sanitized:
        raise BuildError(f"{path}: relocated sysconfig data does not round-trip; this is a bug")
    moved = evaluate_sysconfigdata(source, f"{_PROBE_PREFIX}/{rel.as_posix()}")
    pattern = _prefix_pattern(build_prefix)
    if any(isinstance(v, str) and pattern.search(v) for v in moved.values()):
        raise BuildError(f"{path}: relocated sysconfig data still names {build_prefix}; a bug")
    _write_text(path, source)
    return True


# ---------------------------------------------------------------------------------------------
# JSON metadata


def relocate_build_details(path: Path, root: Path, build_prefix: str = BUILD_PREFIX) -> bool:
    """PEP 739: base_prefix relative to this file's directory, other paths to base_prefix."""
    data = json.loads(path.read_text(encoding="utf-8"))
    base = data.get("base_prefix")
    if base != build_prefix:
        return False
    data["base_prefix"] = os.path.relpath(root, path.parent)

    def relative(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: relative(item) for key, item in value.items()}
        if isinstance(value, list):
            return [relative(item) for item in value]
        if isinstance(value, str) and value.startswith(build_prefix + "/"):
            return "./" + value[len(build_prefix) + 1 :]
        return value

    data = {key: value if key == "base_prefix" else relative(value) for key, value in data.items()}
    _write_text(path, json.dumps(data, indent=2) + "\n")
    return True


def sanitize_sysconfig_vars_json(path: Path) -> bool:
    """Compiler settings only: JSON cannot compute a prefix, so paths stay as data."""
    data = json.loads(path.read_text(encoding="utf-8"))
    sanitized = sanitize_config_vars(data)
    if sanitized == data:
        return False
    _write_text(path, json.dumps(sanitized, indent=2, sort_keys=True) + "\n")
    return True


# ---------------------------------------------------------------------------------------------
# Makefile and python-config

_MAKE_ASSIGNMENT = re.compile(
    r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>\s*[:+?]?=[ \t]*)(?P<value>.*)$"
)
_SHELL_ASSIGNMENT = re.compile(r'^(?P<name>[A-Z_]+)=(?P<head>[^"]*")(?P<value>[^"]*)(?P<tail>".*)$')


def sanitize_makefile(path: Path) -> bool:
    """Compiler settings in the installed Makefile (kept for tools that parse it)."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        match = _MAKE_ASSIGNMENT.match(body)
        if match:
            value = sanitize_config_value(match["name"], match["value"])
            body = f"{match['name']}{match['op']}{value}"
        lines.append(body + line[len(line.rstrip("\n")) :])
    return _write_if_changed(path, text, "".join(lines))


# python-config.sh finds its prefix at run time, but word-splits the directory on the way; these
# quoted forms keep an installation path with spaces in one piece.
PYTHON_CONFIG_QUOTING = {
    '    RESULT=$(dirname $(cd $(dirname "$1") && pwd -P))': (
        '    RESULT=$(dirname "$(cd "$(dirname "$1")" && pwd -P)")'
    ),
    "    echo $RESULT": '    echo "$RESULT"',
}


def sanitize_python_config(path: Path) -> bool:
    """Compiler flags in ``python3.X-config``; its prefix lines resolve themselves at run time."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        body = PYTHON_CONFIG_QUOTING.get(body, body)
        match = _SHELL_ASSIGNMENT.match(body)
        if match and match["name"] in PYTHON_CONFIG_FLAG_VARIABLES:
            value = sanitize_flags(match["value"])
            body = f"{match['name']}={match['head']}{value}{match['tail']}"
        lines.append(body + line[len(line.rstrip("\n")) :])
    return _write_if_changed(path, text, "".join(lines))


# ---------------------------------------------------------------------------------------------
# Shebangs


# For /bin/sh, line 2 is ``exec <real dir>/<interpreter> "$0" "$@"`` (the leading quotes are
# an empty string glued to 'exec'), so line 3 is never reached.  For Python, line 2 opens a
# triple-quoted string that line 3 closes, so the rest of the file is the original script.
_TRAMPOLINE = """\
#!/bin/sh
'''exec' "$(dirname -- "$(realpath -- "$0")")/@INTERPRETER@"@ARGUMENT@ "$0" "$@"
' '''
"""


def shell_trampoline(interpreter: str, argument: str | None = None) -> str:
    """Lines that run this file with ``interpreter`` (relative to the file's real directory).

    ``realpath`` resolves a symlinked script (``~/.local/bin/pip -> /opt/python/bin/pip``) to
    the installation; every expansion is quoted, so paths with spaces work.
    """
    if not _SHELL_NAME_RE.fullmatch(interpreter):
        raise ValueError(f"interpreter path {interpreter!r} needs quoting; refusing to embed it")
    extra = f" {shlex.quote(argument)}" if argument else ""
    if "'''" in extra:
        raise ValueError(f"shebang argument {argument!r} cannot be embedded")
    return _TRAMPOLINE.replace("@INTERPRETER@", interpreter).replace("@ARGUMENT@", extra)


def rewrite_shebang(path: Path, root: Path, build_prefix: str = BUILD_PREFIX) -> bool:
    """Replace a ``#!/install/...`` line with :func:`shell_trampoline`; False if not one."""
    data = path.read_bytes()
    if not data.startswith(b"#!") or b"\0" in data:
        return False
    first, _, rest = data.partition(b"\n")
    shebang = first[2:].decode("utf-8", errors="surrogateescape").strip()
    # Linux passes everything after the interpreter as one argument; keep it that way.
    interpreter, _, argument = shebang.replace("\t", " ").partition(" ")
    if not interpreter.startswith(build_prefix + "/"):
        return False
    target = root / interpreter[len(build_prefix) + 1 :]
    relative = os.path.relpath(target, path.parent)
    try:
        header = shell_trampoline(relative, argument.strip() or None).encode()
    except ValueError as exc:
        raise BuildError(f"{path}: cannot make the shebang relocatable: {exc}") from None
    _write_bytes(path, header + rest)
    return True


# ---------------------------------------------------------------------------------------------
# pkg-config

_PC_FLAG_FIELDS = ("Cflags", "Cflags.private", "Libs", "Libs.private")


def relocate_pkgconfig(path: Path, root: Path, build_prefix: str = BUILD_PREFIX) -> bool:
    """``prefix=${pcfiledir}/<up to the root>``; other prefix paths via ``${prefix}``."""
    text = path.read_text(encoding="utf-8")
    up = Path(os.path.relpath(root, path.parent)).as_posix()
    relative_prefix = "${pcfiledir}" + ("" if up == "." else "/" + up)
    defines_prefix = re.search(rf"^prefix={re.escape(build_prefix)}/?$", text, re.M) is not None
    pattern = _prefix_pattern(build_prefix)
    # Other paths under the prefix go through ${prefix} when the file defines it.
    replacement = "${prefix}" if defines_prefix else relative_prefix
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        if re.fullmatch(rf"prefix={re.escape(build_prefix)}/?", body):
            body = f"prefix={relative_prefix}"
        else:
            field, colon, value = body.partition(":")
            if colon and field.strip() in _PC_FLAG_FIELDS:
                cleaned = sanitize_flags(value.strip())
                if cleaned != value.strip():
                    body = f"{field}: {cleaned}"
            body = pattern.sub(lambda m: (m.group("flag") or "") + replacement, body)
        lines.append(body + line[len(line.rstrip("\n")) :])
    return _write_if_changed(path, text, "".join(lines))


# ---------------------------------------------------------------------------------------------
# Driver


def make_relocatable(root: Path, *, build_prefix: str = BUILD_PREFIX) -> list[Change]:
    """Rewrite the installation staged at ``root`` in place; return what changed.

    Idempotent: a second run finds nothing to do and returns an empty list.
    """
    if not (root / "bin").is_dir() or not (root / "lib").is_dir():
        raise BuildError(f"{root} does not look like an installation (no bin/ and lib/)")
    changes: list[Change] = []

    def record(path: Path, description: str) -> None:
        changes.append(Change(path.relative_to(root), description))

    for path in _regular_files(root.glob("lib/python3*/_sysconfigdata_*.py")):
        if relocate_sysconfigdata(path, root, build_prefix):
            record(path, "prefix computed from the module's location; compiler settings sanitized")
            for stale in sorted(path.parent.glob(f"__pycache__/{path.stem}.*.pyc")):
                stale.unlink()
                record(stale, "removed stale bytecode")
    for path in _regular_files(root.glob("lib/python3*/_sysconfig_vars_*.json")):
        if sanitize_sysconfig_vars_json(path):
            record(path, "compiler settings sanitized")
    for path in _regular_files(root.glob("lib/python3*/build-details.json")):
        if relocate_build_details(path, root, build_prefix):
            record(path, "paths made relative (PEP 739)")
    for path in _regular_files(root.glob("lib/python3*/config-*/Makefile")):
        if sanitize_makefile(path):
            record(path, "compiler settings sanitized")
    for path in _regular_files(root.glob("bin/python*-config")):
        if sanitize_python_config(path):
            record(path, "compiler flags sanitized")
    scripts = [
        *sorted((root / "bin").iterdir()),
        *root.glob("lib/python3*/config-*/python-config.py"),
    ]
    for path in _regular_files(scripts):
        if rewrite_shebang(path, root, build_prefix):
            record(path, "shebang replaced by a relocatable /bin/sh trampoline")
    for path in _regular_files(root.glob("lib/pkgconfig/*.pc")):
        if relocate_pkgconfig(path, root, build_prefix):
            record(path, "prefix made relative to ${pcfiledir}")
    return changes


def _regular_files(paths: Iterable[Path]) -> list[Path]:
    # Symlinks are skipped: their targets are rewritten under their own names.
    return sorted(path for path in paths if path.is_file() and not path.is_symlink())


# ---------------------------------------------------------------------------------------------
# Auditing


def find_build_paths(
    root: Path, needles: Iterable[str] = DEFAULT_NEEDLES
) -> list[tuple[Path, str]]:
    """(file, line) for every line of a text file under ``root`` that names a build path.

    ``root`` may also be a single file.  Binary files (a NUL byte) are skipped.  A needle not
    ending in '/' only matches as a whole path component (``/install`` but not
    ``/installer``).
    """
    patterns = [
        re.compile(re.escape(needle) + ("" if needle.endswith("/") else r"(?![\w.-])"))
        for needle in needles
    ]
    hits = []
    for path in _text_files(root):
        text = path.read_bytes().decode("utf-8", errors="replace")
        for line in text.splitlines():
            if any(pattern.search(line) for pattern in patterns):
                hits.append((path, line))
    return hits


def audit_relocation(
    root: Path, needles: Iterable[str] = DEFAULT_NEEDLES, *, build_prefix: str = BUILD_PREFIX
) -> list[tuple[Path, str]]:
    """Build paths left in the files relocation is responsible for (empty when all is well).

    Covers bin/ scripts, pkg-config files, _sysconfigdata and build-details.json.  Lines
    matching :data:`RUN_TIME_RESOLVED_LINES` are allowed.  _sysconfigdata names the build
    prefix on purpose (installers rewrite it), so it is audited by the values it computes when
    imported from another directory, each reported as ``NAME = value``.  The Makefile and
    ``_sysconfig_vars_*.json`` are plain data that cannot compute a prefix and are not audited.
    """
    files = [
        *(root / "bin").iterdir(),
        *root.glob("lib/pkgconfig/*.pc"),
        *root.glob("lib/python3*/build-details.json"),
    ]
    hits = []
    prefix_path = _prefix_pattern(build_prefix)
    for path in _regular_files(root.glob("lib/python3*/_sysconfigdata_*.py")):
        probe = f"{_PROBE_PREFIX}/{path.relative_to(root).as_posix()}"
        values = evaluate_sysconfigdata(path.read_text(encoding="utf-8"), probe)
        hits += [
            (path, f"{name} = {value!r}")
            for name, value in sorted(values.items())
            if isinstance(value, str)
            and (prefix_path.search(value) or any(map(_is_build_only_path, value.split())))
        ]
    for path in _regular_files(files):
        rel = path.relative_to(root).as_posix()
        allowed = [
            line.replace("{prefix}", re.escape(build_prefix))
            for glob, line in RUN_TIME_RESOLVED_LINES
            if fnmatch.fnmatch(rel, glob)
        ]
        hits += [
            (file, line)
            for file, line in find_build_paths(path, needles)
            if not any(re.fullmatch(pattern, line) for pattern in allowed)
        ]
    return hits


def _text_files(root: Path) -> Iterator[Path]:
    candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in candidates:
        if path.is_symlink():
            continue
        with path.open("rb") as handle:
            if b"\0" in handle.read(8192):
                continue
        yield path


# ---------------------------------------------------------------------------------------------
# Writing


def _write_if_changed(path: Path, old: str, new: str) -> bool:
    if new == old:
        return False
    _write_bytes(path, new.encode("utf-8", errors="surrogateescape"))
    return True


def _write_text(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically, keeping its permission bits."""
    mode = path.stat().st_mode & 0o7777
    tmp = path.with_name(f".{path.name}.relocate")
    try:
        tmp.write_bytes(data)
        tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
