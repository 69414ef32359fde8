"""Read what CPython's build decided: ``Modules/Setup.*`` rules, ``config.c`` and make variables.

PYTHON.json's ``build_info`` must say which object files and libraries make up each extension
module.  The authority is CPython's ``makesetup``, which turns the Setup files into Makefile rules;
this module re-reads the same files with the same rules (first rule for a module wins, ``#``
starts a comment, ``*static*``/``*shared*``/``*disabled*`` switch sections, words are classified
by their shape) so the metadata describes what was actually compiled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import BuildError

# makesetup reads Setup.local first so local choices override the configure-generated defaults.
SETUP_FILES = ("Setup.local", "Setup.stdlib", "Setup.bootstrap")
SECTIONS = ("static", "shared", "disabled")
SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".c++", ".C")

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAKE_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_INITTAB = re.compile(r"_PyImport_Inittab\[\]\s*=\s*\{(.*?)\n\};", re.DOTALL)
_INITTAB_ENTRY = re.compile(r'\{\s*"([A-Za-z0-9_.]+)"\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}')


@dataclass(frozen=True)
class ModuleRule:
    """One module's rule from a Setup file, split the way makesetup splits it."""

    name: str
    section: str  # static (compiled into libpython), shared (lib-dynload) or disabled
    origin: str  # the Setup file the rule came from
    sources: tuple[str, ...] = ()
    cflags: tuple[str, ...] = ()
    libs: tuple[str, ...] = ()

    @property
    def objects(self) -> tuple[str, ...]:
        """Object files relative to the build directory: ``dir/x.c`` compiles to ``Modules/dir/x.o``."""
        return tuple(
            str(PurePosixPath("Modules") / PurePosixPath(src).with_suffix(".o"))
            for src in self.sources
        )


def _logical_lines(text: str) -> list[str]:
    """Rules as makesetup sees them: comments cut, blank lines dropped, then continuations joined.

    The order matters: a comment ending in a backslash does not swallow the next line.
    """
    physical = [re.sub(r"[ \t]*#.*", "", raw).strip() for raw in text.splitlines()]
    lines: list[str] = []
    pending = ""
    for line in filter(None, physical):
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append((pending + line).strip())
        pending = ""
    if pending.strip():
        lines.append(pending.strip())
    return lines


def _classify(line: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """Split a rule into (module names, sources, compiler flags, linker words) like makesetup."""
    names: list[str] = []
    sources: list[str] = []
    cflags: list[str] = []
    libs: list[str] = []
    words = line.split()
    while words:
        word = words.pop(0)
        if word in ("-Xlinker", "-u") and words:
            libs += [word, words.pop(0)]
        elif re.match(r"^-[IDUC]", word):
            cflags.append(word)
        elif (
            re.match(r"^-[A-Zl]", word)
            or word.endswith((".a", ".so"))
            or (word.startswith("/") and word.endswith(".o"))
        ):
            libs.append(word)  # libraries, archives and prebuilt objects go to the linker
        elif word.endswith(".o"):
            sources.append(word[:-2] + ".c")
        elif word.endswith(SOURCE_SUFFIXES):
            sources.append(word)
        elif word.startswith("$"):
            # A make variable may hold flags for either step; makesetup passes it to both.
            cflags.append(word)
            libs.append(word)
        elif _MODULE_NAME.match(word):
            names.append(word)
        else:
            raise BuildError(f"unexpected word {word!r} in Setup rule {line!r}")
    return names, sources, cflags, libs


def parse_setup_text(text: str, origin: str) -> list[ModuleRule]:
    """Every module rule in one Setup file, in file order (disabled entries included)."""
    rules: list[ModuleRule] = []
    section = "static"
    for line in _logical_lines(text):
        marker = re.fullmatch(r"\*(\w+)\*", line)
        if marker:
            if marker.group(1) not in SECTIONS:
                raise BuildError(f"{origin}: unknown section marker {line!r}")
            section = marker.group(1)
            continue
        if _ASSIGNMENT.match(line) or line.startswith("include "):
            continue
        names, sources, cflags, libs = _classify(line)
        if not names:
            raise BuildError(f"{origin}: rule without a module name: {line!r}")
        for name in names:
            rules.append(
                ModuleRule(name, section, origin, tuple(sources), tuple(cflags), tuple(libs))
            )
    return rules


def resolve_setup_rules(files: Sequence[tuple[str, str]]) -> dict[str, ModuleRule]:
    """Apply makesetup's precedence to ``(origin, text)`` pairs: the first rule for a name wins."""
    resolved: dict[str, ModuleRule] = {}
    for origin, text in files:
        for rule in parse_setup_text(text, origin):
            resolved.setdefault(rule.name, rule)
    return resolved


def read_setup_rules(build_tree: Path) -> dict[str, ModuleRule]:
    """The effective rule of every module named in the build tree's Setup files."""
    files = []
    for name in SETUP_FILES:
        path = build_tree / "Modules" / name
        if not path.is_file():
            if name == "Setup.local":
                continue  # optional: an empty local configuration is valid
            raise BuildError(f"{path} is missing; the CPython build must export Modules/{name}")
        files.append((name, path.read_text()))
    return resolve_setup_rules(files)


def parse_inittab(config_c: str) -> dict[str, str]:
    """Module name -> init function from ``_PyImport_Inittab`` (``NULL`` stays the string NULL)."""
    block = _INITTAB.search(config_c)
    if not block:
        raise BuildError(
            "Modules/config.c has no _PyImport_Inittab table; is it makesetup's output?"
        )
    body = re.sub(r"/\*.*?\*/", "", block.group(1), flags=re.DOTALL)
    return {name: fn for name, fn in _INITTAB_ENTRY.findall(body)}


def expand_make_references(text: str, variables: Mapping[str, str]) -> str:
    """Expand ``$(NAME)`` from ``variables``; unknown names expand to nothing, as in make."""

    def replace(match: re.Match[str], depth: int = 0) -> str:
        value = variables.get(match.group(1), "")
        if depth > 20:
            raise BuildError(f"make variable {match.group(1)} refers to itself")
        return _MAKE_REFERENCE.sub(lambda m: replace(m, depth + 1), value)

    return _MAKE_REFERENCE.sub(replace, text)


def module_link_words(rule: ModuleRule, make_vars: Mapping[str, str]) -> list[str]:
    """The linker words makesetup used for ``rule``, with make variables expanded.

    A rule with neither compiler nor linker flags gets ``$(MODULE_<NAME>_LDFLAGS)`` (the
    libraries configure found for the module); a rule with explicit flags uses only its own.
    """
    words = list(rule.libs)
    if not rule.cflags and not rule.libs:
        words = [f"$(MODULE_{rule.name.upper()}_LDFLAGS)"]
    return expand_make_references(" ".join(words), make_vars).split()


def internal_archives(make_vars: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """CPython's own helper archives (``Modules/_hacl/libHacl_Hash_SHA2.a``) -> their objects.

    The Makefile names each archive ``<X>_A`` (or ``<X>_LIB_STATIC``) and its members
    ``<X>_OBJS``; a module that links the archive owns those objects in PYTHON.json.
    """
    archives: dict[str, tuple[str, ...]] = {}
    for name, value in make_vars.items():
        stem = name.removesuffix("_LIB_STATIC") if name.endswith("_LIB_STATIC") else None
        if stem is None and name.endswith("_A"):
            stem = name.removesuffix("_A")
        members = make_vars.get(f"{stem}_OBJS") if stem else None
        if members is None:
            continue
        objs = tuple(
            w for w in expand_make_references(members, make_vars).split() if w.endswith(".o")
        )
        archives[expand_make_references(value, make_vars).strip()] = objs
    return archives
