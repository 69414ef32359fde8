"""Imports in pythonbuild/ only go downward (docs/architecture.md):

    platform wings (linux/, later windows/, macos/) and tools (validate/, testdist/, ...)
      over distribution/ (what every platform shares to turn a build into archives)
      over sbom/
      over the shared core (the modules at the top of pythonbuild/)

A wing never imports another wing, and no module imports itself back through others. Every
import counts, also one inside a function: it runs as surely, only later.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pythonbuild.paths import ROOT

PACKAGE = ROOT / "pythonbuild"
PLATFORM_WINGS = {"linux", "windows", "macos"}
TOOLS = {"validate", "testdist", "reproduce", "bench", "cache", "release", "relink"}
# What each shared layer may import: itself and the layers below it.
SHARED_LAYERS = {
    "core": {"core"},
    "sbom": {"sbom", "core"},
    "distribution": {"distribution", "sbom", "core"},
}


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of pythonbuild (not the data under resources/)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "resources" in parts:
            continue
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def layer_of(module: str) -> str:
    """``core`` for pythonbuild and its top-level modules, else its subpackage's name."""
    parts = MODULES[module].relative_to(PACKAGE).parts
    return "core" if len(parts) == 1 else parts[0]


def imports_of(module: str) -> dict[str, int]:
    """The pythonbuild modules ``module`` imports -> the line of the first such import."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from package import module`` imports the module; a name imports its module.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            if name in MODULES and name != module:
                found.setdefault(name, node.lineno)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_subpackage_has_a_place_in_the_layers():
    known = PLATFORM_WINGS | TOOLS | SHARED_LAYERS.keys()
    assert {layer_of(module) for module in MODULES} <= known, (
        "a new subpackage of pythonbuild/: add it to a layer here and in docs/architecture.md"
    )


def test_imports_only_go_downward():
    wrong = []
    for module, imported in GRAPH.items():
        layer = layer_of(module)
        for target, line in imported.items():
            target_layer = layer_of(target)
            if layer in SHARED_LAYERS:
                allowed = target_layer in SHARED_LAYERS[layer]
            elif layer in PLATFORM_WINGS:
                allowed = target_layer not in PLATFORM_WINGS - {layer}
            else:  # a tool works with any wing and any other tool
                allowed = True
            if not allowed:
                where = MODULES[module].relative_to(ROOT)
                wrong.append(f"{where}:{line}: {layer} imports {target} ({target_layer})")
    assert not wrong, "imports that go up or across:\n" + "\n".join(wrong)


def test_no_import_cycle():
    done: set[str] = set()

    def visit(module: str, chain: list[str]) -> None:
        if module in chain:
            cycle = [*chain[chain.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in GRAPH[module]:
            visit(target, [*chain, module])
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])
