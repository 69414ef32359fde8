"""The regression-suite exclusion list: data in ``resources/testdist/exclusions.yml``.

Layout: Python minor version -> target pattern (``fnmatch``, e.g. ``x86_64*-unknown-linux-gnu``
or ``*``) -> list of entries. An entry leaves out either a whole test file (``module: test_xxx``,
passed to regrtest as ``-x``) or test cases (``case: test.test_os.FileTests.test_access`` or a
glob such as ``test.test_os.*.test_chown*``, written to an ``--ignorefile``), and always says
why (``reason``). Optional ``options`` (fnmatch patterns of build options, e.g.
``freethreaded+*``) limit an entry to some builds, ``emulated: true`` to runs of a target
whose programs run here under qemu-user (a limitation of the emulator, not of the target),
``foreign: true`` to runs of a foreign target, qemu or not (i686 too: this machine's tools
build for x86_64, not for the target), and
``systems`` to runs in some ``--in-container`` systems: fnmatch patterns of their names, or
``debian`` (any Debian suite) or ``musl`` (any musl root); ``"*"`` is every container system,
never this machine.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import BuildError
from ..paths import RESOURCES

EXCLUSIONS_FILE = RESOURCES / "testdist" / "exclusions.yml"

# regrtest's -x compares against test file names without their package (findtests' ``mod``).
_MODULE_NAME = re.compile(r"test_\w+")
# Case ids as regrtest reports them; a pattern with a dot and no wildcard must be a full id.
_CASE_ID = re.compile(r"test\.[\w.]+|[\w.*?\[\]]*[*?\[][\w.*?\[\]]*")
_ENTRY_KEYS = {"module", "case", "reason", "options", "emulated", "foreign", "systems"}


@dataclass(frozen=True)
class Exclusion:
    kind: str  # "module" or "case"
    test: str
    reason: str
    targets: str  # the target pattern the entry was listed under
    options: tuple[str, ...] = ()  # empty: every build
    emulated: bool = False  # only where the target's programs run under qemu-user
    systems: tuple[str, ...] = ()  # only in these --in-container systems; empty: everywhere
    foreign: bool = False  # only for a target of another architecture than this machine's

    def applies_to(
        self, target: str, options: str, emulated: bool = False, foreign: bool = False
    ) -> bool:
        if not fnmatch.fnmatchcase(target, self.targets) or (self.emulated and not emulated):
            return False
        if self.foreign and not (foreign or emulated):
            return False
        return not self.options or any(fnmatch.fnmatchcase(options, o) for o in self.options)

    def applies_in(self, system: str | None, kind: str | None = None) -> bool:
        """Whether it applies in ``system`` (an --in-container name of ``kind``, "debian" or
        "musl"; None: this machine)."""
        if not self.systems:
            return True
        if system is None:
            return False
        return any(fnmatch.fnmatchcase(system, p) or p == kind for p in self.systems)


def _entry(raw: object, where: str, targets: str) -> Exclusion:
    if not isinstance(raw, dict):
        raise BuildError(f"{where}: an entry must be a mapping with module/case and reason")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise BuildError(
            f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_ENTRY_KEYS)})"
        )
    kinds = [k for k in ("module", "case") if k in raw]
    if len(kinds) != 1:
        raise BuildError(f"{where}: give exactly one of 'module' or 'case'")
    kind = kinds[0]
    test = str(raw[kind]).strip()
    reason = str(raw.get("reason") or "").strip()
    if not reason:
        raise BuildError(f"{where} ({test}): every exclusion needs a reason")
    pattern = _MODULE_NAME if kind == "module" else _CASE_ID
    if not pattern.fullmatch(test):
        expected = (
            "a test file name like test_tkinter (no package prefix)"
            if kind == "module"
            else "a full test id like test.test_os.FileTests.test_access, or a glob pattern"
        )
        raise BuildError(f"{where}: {kind} {test!r} is not {expected}")
    options = raw.get("options", ())
    if isinstance(options, str):
        options = (options,)
    emulated = raw.get("emulated", False)
    if not isinstance(emulated, bool):
        raise BuildError(f"{where} ({test}): emulated is true or false, not {emulated!r}")
    foreign = raw.get("foreign", False)
    if not isinstance(foreign, bool):
        raise BuildError(f"{where} ({test}): foreign is true or false, not {foreign!r}")
    systems = raw.get("systems", ())
    if not isinstance(systems, list | tuple) or not all(isinstance(x, str) for x in systems):
        raise BuildError(f"{where} ({test}): systems is a list of system names or patterns")
    return Exclusion(
        kind, test, reason, targets, tuple(str(o) for o in options), emulated, tuple(systems),
        foreign,
    )


def parse_exclusions(data: object, source: str = "exclusions") -> dict[str, list[Exclusion]]:
    """Validate the whole document; returns Python minor version -> entries."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BuildError(f"{source}: expected a mapping of Python versions")
    result: dict[str, list[Exclusion]] = {}
    for version, by_target in data.items():
        version = str(version)
        if not re.fullmatch(r"3\.\d+", version):
            raise BuildError(f"{source}: {version!r} is not a Python minor version like 3.13")
        if not isinstance(by_target, dict):
            raise BuildError(f"{source}: {version}: expected target patterns mapping to lists")
        entries = []
        for targets, raw_entries in by_target.items():
            if not isinstance(raw_entries, list):
                raise BuildError(f"{source}: {version}/{targets}: expected a list of entries")
            for index, raw in enumerate(raw_entries):
                entries.append(_entry(raw, f"{source}: {version}/{targets}[{index}]", str(targets)))
        seen: set[tuple[str, str, str]] = set()
        for entry in entries:
            key = (entry.kind, entry.test, entry.targets)
            if key in seen:
                raise BuildError(f"{source}: {version}/{entry.targets}: {entry.test} listed twice")
            seen.add(key)
        result[version] = entries
    return result


def load_exclusions(path: Path = EXCLUSIONS_FILE) -> dict[str, list[Exclusion]]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise BuildError(f"cannot read the exclusion list {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise BuildError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    return parse_exclusions(data, str(path))


def exclusions_for(
    table: dict[str, list[Exclusion]],
    python_minor: str,
    target: str,
    options: str,
    emulated: bool = False,
    systems: dict[str, str] | None = None,
    foreign: bool = False,
) -> list[Exclusion]:
    """The entries for one run; ``emulated``: the target's programs run under qemu-user;
    ``foreign``: the target's architecture is not this machine's (emulated or not);
    ``systems``: the --in-container systems it runs in (name -> kind; None: this machine).
    An entry limited to some systems is in the list if it applies in one of them."""
    places: list[tuple[str | None, str | None]] = list((systems or {}).items()) or [(None, None)]
    return [
        e
        for e in table.get(python_minor, [])
        if e.applies_to(target, options, emulated, foreign)
        and any(e.applies_in(*p) for p in places)
    ]


def regrtest_arguments(
    exclusions: list[Exclusion],
    ignore_file: Path,
    selection: tuple[str, ...] = (),
    ignore_file_as: str | None = None,
) -> list[str]:
    """regrtest options that apply ``exclusions``; writes ``ignore_file`` when there are cases
    (``ignore_file_as``: the path regrtest will read it at, when not this one, as in a
    container).

    With a ``selection`` of test modules, only those run (less the excluded modules); without
    one, the whole suite less the exclusions. ``-x`` turns *every* positional argument into an
    exclusion, so these must come last.
    """
    args: list[str] = []
    cases = sorted({e.test for e in exclusions if e.kind == "case"})
    if cases:
        ignore_file.write_text("".join(f"{case}\n" for case in cases))
        args += ["--ignorefile", ignore_file_as or str(ignore_file)]
    modules = sorted({e.test for e in exclusions if e.kind == "module"})
    if selection:
        return args + [name for name in selection if name not in modules]
    if modules:
        args += ["-x", *modules]
    return args
