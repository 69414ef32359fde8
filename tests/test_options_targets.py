"""Option parsing, targets.yml and the command line's answers to bad input."""

from __future__ import annotations

import pytest

from pythonbuild.errors import UsageError
from pythonbuild.linux.cli import main, parse_args
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


def test_every_option_set_is_buildable():
    assert parse_options("pgo+lto") == BuildOptions("pgo+lto")
    assert parse_options("freethreaded+debug") == BuildOptions("debug", freethreaded=True)
    assert parse_options("freethreaded") == BuildOptions("noopt", freethreaded=True)


def test_targets_yml_describes_x86_64():
    target = get_target("x86_64-unknown-linux-gnu")
    assert target.glibc_floor == "2.17" and target.sysroot == "bullseye"
    assert target.glibc_stubs == "ziglang" and target.build_sysroot == "/tools/glibc"
    assert "libc.so.6" in target.needed_libraries
    packages_313 = target.packages_for("3.13")
    assert "openssl" in packages_313 and "zstd" not in packages_313
    assert "zstd" in target.packages_for("3.14")


@pytest.mark.parametrize("level", ["", "_v2", "_v3", "_v4"])
def test_microarchitecture_levels_differ_only_in_march(level):
    base = get_target("x86_64-unknown-linux-gnu")
    target = get_target(f"x86_64{level}-unknown-linux-gnu")
    assert target.march == ("x86-64" + level.replace("_", "-"))
    assert (target.needs, target.sysroot, target.pythons) == (
        base.needs,
        base.sysroot,
        base.pythons,
    )
    assert target.bolt == base.bolt


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
            "unknown target 'sparc-sun-solaris'; choose one of: aarch64-unknown-linux-gnu, "
            "aarch64-unknown-linux-musl, armv7-unknown-linux-gnueabihf, i686-unknown-linux-gnu, "
            "ppc64le-unknown-linux-gnu, riscv64-unknown-linux-gnu, s390x-unknown-linux-gnu, "
            "x86_64-unknown-linux-gnu, x86_64-unknown-linux-musl, "
            "x86_64_v2-unknown-linux-gnu, x86_64_v2-unknown-linux-musl, "
            "x86_64_v3-unknown-linux-gnu, x86_64_v3-unknown-linux-musl, "
            "x86_64_v4-unknown-linux-gnu, x86_64_v4-unknown-linux-musl",
        ),
        (["--python", "2.7"], "unknown Python version '2.7'; choose one of: 3.13, 3.14, 3.15"),
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


def test_host_cpu_check_names_the_missing_instructions(tmp_path, monkeypatch):
    from pythonbuild.linux.cpu import X86_64_LEVEL_FLAGS, host_cpu_flags, missing_cpu_flags

    cpuinfo = tmp_path / "cpuinfo"
    v2_host = " ".join(sorted(X86_64_LEVEL_FLAGS["x86-64-v2"] | {"fpu", "sse2"}))
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {v2_host}\n")
    monkeypatch.delenv("STANDALONE_PYTHON_HOST_CPU_FLAGS", raising=False)
    flags = host_cpu_flags(cpuinfo)
    for level in ("x86-64", "x86-64-v2"):
        assert missing_cpu_flags(level, flags) == []
    assert "avx2" in missing_cpu_flags("x86-64-v3", flags)
    assert "avx512f" in missing_cpu_flags("x86-64-v4", flags)
    # Every level needs what the level below it needs.
    assert X86_64_LEVEL_FLAGS["x86-64-v2"] < X86_64_LEVEL_FLAGS["x86-64-v3"]
    assert X86_64_LEVEL_FLAGS["x86-64-v3"] < X86_64_LEVEL_FLAGS["x86-64-v4"]


def test_v4_pgo_build_on_a_v2_host_without_a_profile_is_refused_in_one_line(
    monkeypatch, tmp_path, capsys
):
    from pythonbuild.linux.cpu import X86_64_LEVEL_FLAGS

    monkeypatch.setenv(
        "STANDALONE_PYTHON_HOST_CPU_FLAGS", " ".join(X86_64_LEVEL_FLAGS["x86-64-v2"])
    )
    argv = [
        "--target",
        "x86_64_v4-unknown-linux-gnu",
        "--options",
        "pgo+lto",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--source-dir",
        str(tmp_path / "none"),
        "--dist",
        str(tmp_path / "dist"),
    ]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "lacks " in err and "avx512f" in err and "--pgo-profile" in err
    assert not (tmp_path / "dist").exists()


def test_kill_ends_a_command_like_ctrl_c_and_restores_the_handlers(capsys):
    import os
    import signal

    from pythonbuild.errors import run_command

    def killed(config):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM should have interrupted the command")

    before = signal.getsignal(signal.SIGTERM)
    assert run_command("prog", [], lambda argv: None, killed, "; rerun") == 130
    assert capsys.readouterr().err == "error: interrupted; rerun\n"
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_full_disk_is_one_line_and_other_os_errors_are_not_hidden(capsys):
    import errno

    from pythonbuild.errors import run_command

    def full(config):
        raise OSError(errno.ENOSPC, "No space left on device", "/x/dist/a.tar.zst")

    assert run_command("prog", [], lambda argv: None, full) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left" in err and "/x/dist/a.tar.zst" in err

    def missing(config):
        raise FileNotFoundError(errno.ENOENT, "No such file", "/nope")

    with pytest.raises(FileNotFoundError):
        run_command("prog", [], lambda argv: None, missing)
