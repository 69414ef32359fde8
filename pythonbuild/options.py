"""Build options, parsed once from strings like ``pgo+lto`` or ``freethreaded+noopt``."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError

# Optimization levels in the order users see them.
OPTIMIZATIONS = ("noopt", "lto", "pgo", "pgo+lto", "debug")
# What the build pipeline can produce; anything else parses but is refused by the driver.
IMPLEMENTED = frozenset({*OPTIMIZATIONS, *(f"freethreaded+{o}" for o in OPTIMIZATIONS)})


@dataclass(frozen=True)
class BuildOptions:
    optimization: str = "noopt"
    freethreaded: bool = False

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
        return ("freethreaded+" if self.freethreaded else "") + self.optimization

    def __str__(self) -> str:
        return self.name


def all_option_names() -> list[str]:
    return [*OPTIMIZATIONS, *(f"freethreaded+{o}" for o in OPTIMIZATIONS)]


def parse_options(text: str, *, implemented_only: bool = True) -> BuildOptions:
    """Parse ``text`` or raise UsageError naming the valid choices."""
    value = text.strip().lower()
    freethreaded = False
    if value.startswith("freethreaded+"):
        freethreaded, value = True, value.removeprefix("freethreaded+")
    elif value == "freethreaded":
        freethreaded, value = True, "noopt"
    if value not in OPTIMIZATIONS:
        raise UsageError(
            f"unknown build options {text!r}; choose one of: {', '.join(valid_choices(implemented_only))}"
        )
    options = BuildOptions(optimization=value, freethreaded=freethreaded)
    if implemented_only and options.name not in IMPLEMENTED:
        raise UsageError(
            f"build options {options.name!r} are not implemented yet; "
            f"choose one of: {', '.join(valid_choices(True))}"
        )
    return options


def valid_choices(implemented_only: bool = True) -> list[str]:
    names = all_option_names()
    return [n for n in names if n in IMPLEMENTED] if implemented_only else names
