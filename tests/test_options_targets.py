"""Option parsing, targets.yml and the command line's answers to bad input."""

from __future__ import annotations

import pytest

from pythonbuild.cli_linux import main, parse_args
from pythonbuild.errors import UsageError
from pythonbuild.options import BuildOptions, all_option_names, parse_options
from pythonbuild.targets import get_target, load_targets


@pytest.mark.parametrize(
    ("text", "optimization", "freethreaded", "pgo", "lto"),
    [
        ("noopt", "noopt", False, False, False),
        ("pgo+lto", "pgo+lto", False, True, True),
        ("freethreaded+pgo", "pgo", True, True, False),
        ("LTO", "lto", False, False, True),
    ],
)
def test_parse_options_grammar(text, optimization, freethreaded, pgo, lto):
    options = parse_options(text, implemented_only=False)
    assert (options.optimization, options.freethreaded) == (optimization, freethreaded)
    assert (options.pgo, options.lto) == (pgo, lto)
    assert parse_options(options.name, implemented_only=False) == options


def test_every_documented_option_round_trips():
    for name in all_option_names():
        assert parse_options(name, implemented_only=False).name == name


def test_unknown_option_names_the_choices():
    with pytest.raises(UsageError) as info:
        parse_options("fast")
    assert "noopt" in str(info.value) and "\n" not in str(info.value)


def test_unimplemented_option_is_refused():
    with pytest.raises(UsageError, match="not implemented yet"):
        parse_options("pgo+lto")
    assert parse_options("noopt") == BuildOptions("noopt")


def test_targets_yml_describes_x86_64():
    target = get_target("x86_64-unknown-linux-gnu")
    assert target.glibc_floor == "2.31" and target.sysroot == "bullseye"
    assert "libc.so.6" in target.needed_libraries
    packages_313 = target.packages_for("3.13")
    assert "openssl" in packages_313 and "zstd" not in packages_313
    assert "zstd" in target.packages_for("3.14")


def test_every_target_needs_only_registry_packages():
    from pythonbuild.registry import load_registry

    registry = load_registry()
    for target in load_targets().values():
        for python in target.pythons:
            registry.cpython(python)
            registry.closure(target.packages_for(python))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["--target", "sparc-sun-solaris"],
            "unknown target 'sparc-sun-solaris'; choose one of: x86_64-unknown-linux-gnu",
        ),
        (["--python", "2.7"], "unknown Python version '2.7'; choose one of: 3.13"),
        (["--options", "turbo"], "unknown build options 'turbo'; choose one of: noopt"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1


def test_help_lists_targets_versions_and_options(capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "x86_64-unknown-linux-gnu" in out and "3.13" in out and "noopt" in out
