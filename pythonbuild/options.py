"""Build options, parsed once from strings like ``pgo+lto``, ``freethreaded+noopt`` or
``lto+static``: ``[freethreaded+]<optimization>[+static]``."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError

# Optimization levels in the order users see them.
OPTIMIZATIONS = ("noopt", "lto", "pgo", "pgo+lto", "debug")
STATIC_SUFFIX = "+static"


def all_option_names() -> list[str]:
    dynamic = [*OPTIMIZATIONS, *(f"freethreaded+{o}" for o in OPTIMIZATIONS)]
    return [*dynamic, *(f"{name}{STATIC_SUFFIX}" for name in dynamic)]


# What the build pipeline can produce; anything else parses but is refused by the driver.
# (Whether a target can build them is the target's answer: Target.refusal.)
IMPLEMENTED = frozenset(all_option_names())


@dataclass(frozen=True)
class BuildOptions:
    optimization: str = "noopt"
    freethreaded: bool = False
    # One executable linked statically against the C library: no libpython.so, no loader, no
    # extension modules but the built-in ones (musl targets only, targets.yml static_libc).
    static: bool = False

    @property
    def pgo(self) -> bool:
        return self.optimization in ("pgo", "pgo+lto")

    @property
    def lto(self) -> bool:
        return self.optimization in ("lto", "pgo+lto")

    @property
    def debug(self) -> bool:
        return self.optimization == "debug"

    @property
    def name(self) -> str:
        """The spelling used in archive names and PYTHON.json ``build_options``."""
        prefix = "freethreaded+" if self.freethreaded else ""
        return prefix + self.optimization + (STATIC_SUFFIX if self.static else "")

    def __str__(self) -> str:
        return self.name


def parse_options(text: str, *, implemented_only: bool = True) -> BuildOptions:
    """Parse ``text`` or raise UsageError naming the valid choices."""
    value = text.strip().lower()
    freethreaded = static = False
    if value.endswith(STATIC_SUFFIX):
        static, value = True, value.removesuffix(STATIC_SUFFIX)
    elif value == "static":
        static, value = True, "noopt"
    if value.startswith("freethreaded+"):
        freethreaded, value = True, value.removeprefix("freethreaded+")
    elif value == "freethreaded":
        freethreaded, value = True, "noopt"
    if value not in OPTIMIZATIONS:
        raise UsageError(
            f"unknown build options {text!r}; choose one of: {', '.join(valid_choices(implemented_only))}"
        )
    options = BuildOptions(optimization=value, freethreaded=freethreaded, static=static)
    if implemented_only and options.name not in IMPLEMENTED:
        raise UsageError(
            f"build options {options.name!r} are not implemented yet; "
            f"choose one of: {', '.join(valid_choices(True))}"
        )
    return options


def valid_choices(implemented_only: bool = True) -> list[str]:
    names = all_option_names()
    return [n for n in names if n in IMPLEMENTED] if implemented_only else names
