"""The source registry: schema, dependency graph, and the pinned data itself."""

from __future__ import annotations

import copy

import pytest
import yaml

from pythonbuild.errors import BuildError, UsageError
from pythonbuild.paths import RESOURCES, UNIX_DIR
from pythonbuild.registry import load_registry, parse_registry

RAW = yaml.safe_load((RESOURCES / "downloads.yml").read_text())


def test_real_registry_loads_and_every_package_has_a_script():
    registry = load_registry()
    for name, source in registry.sources.items():
        if name.startswith("cpython-"):
            continue
        assert (UNIX_DIR / f"build-{source.project}.sh").is_file(), name
        assert source.licenses and source.license_file


def test_closure_puts_dependencies_first():
    registry = load_registry()
    order = registry.closure(["libedit", "zlib"])
    assert order.index("ncurses") < order.index("libedit")
    assert set(order) == {"ncurses", "libedit", "zlib"}
    assert registry.dependencies("libedit") == ["ncurses"]


def test_repacked_sources_are_not_fetched_from_upstream():
    registry = load_registry()
    assert not registry["zlib"].upstream_serves_pinned_bytes
    assert registry["openssl"].upstream_serves_pinned_bytes
    # Bytes that are not upstream's are never cached under the upstream file name.
    assert registry["zlib"].filename == registry["zlib"].debian_file


def test_bad_sha256_is_rejected_with_its_location():
    data = copy.deepcopy(RAW)
    data["zlib"]["sha256"] = "abc"
    with pytest.raises(BuildError, match="zlib/sha256"):
        parse_registry(data)


def test_undeclared_dependency_and_cycles_are_rejected():
    data = copy.deepcopy(RAW)
    data["zlib"]["depends"] = ["nonexistent"]
    with pytest.raises(BuildError, match="nonexistent"):
        parse_registry(data)
    data = copy.deepcopy(RAW)
    data["ncurses"]["depends"] = ["libedit"]
    with pytest.raises(BuildError, match="cycle"):
        parse_registry(data)


def test_unknown_python_version_names_choices():
    with pytest.raises(UsageError, match=r"choose one of: 3\.13"):
        load_registry().cpython("3.9")


def test_debian_binary_packages_are_fetched_from_debian_only():
    registry = load_registry()
    for name in ("xorgproto", "xcb-proto", "xcbgen"):
        source = registry[name]
        assert source.is_debian_binary_package and not source.upstream_serves_pinned_bytes
        assert source.filename == source.debian_file and source.filename.endswith("_all.deb")
        assert source.strip_components == 0
    assert not registry["tcl"].is_debian_binary_package


def test_tk_brings_tcl_and_the_x11_client_libraries():
    closure = load_registry().closure(["tk"])
    for name in ("tcl", "zlib", "libx11", "libxcb", "libxau", "xorgproto", "xtrans", "xcb-proto"):
        assert closure.index(name) < closure.index("tk"), name
    assert closure.index("xcbgen") < closure.index("libxcb")
