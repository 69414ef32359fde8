"""Host programs in one place: resources/host-tools.yml, ensure_host_tool, the `host-tools`
command and the tests' require_tool (fast; nothing is installed)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import require_tool as require_tool_module
from require_tool import require_tool

from pythonbuild.errors import BuildError
from pythonbuild.linux import host_tools
from pythonbuild.linux.emulation import emulator_command
from pythonbuild.linux.host_tools import ensure_host_tool, host_tool
from pythonbuild.linux.host_tools_cli import main
from pythonbuild.targets import load_targets

TESTS = Path(__file__).resolve().parent


def _missing(monkeypatch, *, ci: bool, root: bool) -> None:
    monkeypatch.setattr("shutil.which", lambda command, *a, **k: None)
    monkeypatch.setattr("os.geteuid", lambda: 0 if root else 1000)
    if ci:
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.delenv("CI", raising=False)


def test_every_tool_names_a_package_and_its_use():
    tools = host_tools.host_tools()
    assert {"cc", "objdump", "readelf", "nm", "git", "Xvfb", "dockerd", "debootstrap"} <= set(tools)
    for command, tool in tools.items():
        assert tool.command == command
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", tool.package), tool
        assert tool.used_by, tool
    assert host_tool("objdump").needs() == "needs objdump (Debian package binutils)"


def test_every_emulator_of_a_target_is_listed():
    emulators = {t.emulator for t in load_targets().values() if t.emulator}
    assert emulators
    for emulator in emulators:
        assert host_tool(emulator_command(emulator)).package == "qemu-user-static"


def test_an_unlisted_tool_is_an_error():
    with pytest.raises(BuildError, match=r"frobnicate is not in host-tools\.yml"):
        host_tool("frobnicate")


def test_without_root_a_missing_tool_names_its_package(monkeypatch, tmp_path):
    _missing(monkeypatch, ci=False, root=False)
    with pytest.raises(BuildError, match=r"apt-get install binutils\)"):
        ensure_host_tool("objdump", tmp_path / "apt.log")


def test_without_apt_a_missing_tool_is_one_error(monkeypatch, tmp_path):
    _missing(monkeypatch, ci=True, root=True)  # which() finds nothing, apt-get included
    with pytest.raises(BuildError, match="no apt-get to install Debian's binutils"):
        ensure_host_tool("objdump", tmp_path / "apt.log")
    assert not (tmp_path / "apt.log").exists()


def test_host_tools_command_lists_and_fails_on_a_missing_tool(monkeypatch, capsys):
    monkeypatch.setattr("shutil.which", lambda c, *a, **k: None if c == "Xvfb" else f"/bin/{c}")
    assert main(["git", "Xvfb"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:3] == ["git", "git", "/bin/git"]
    assert lines[1].split()[:3] == ["Xvfb", "xvfb", "missing"]
    assert "apt-get install xvfb" in captured.err
    assert main(["git"]) == 0


# --- require_tool -----------------------------------------------------------------------------


def test_require_tool_returns_a_present_tool(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda command, *a, **k: f"/usr/bin/{command}")
    assert require_tool("readelf") == "/usr/bin/readelf"


@pytest.mark.parametrize(("ci", "root"), [(False, True), (False, False), (True, False)])
def test_require_tool_skips_and_names_the_package(monkeypatch, ci: bool, root: bool):
    _missing(monkeypatch, ci=ci, root=root)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_tool("objdump")
    assert str(skipped.value).startswith("needs objdump (Debian package binutils): ")
    assert "CI=true" in str(skipped.value)


def test_require_tool_installs_under_ci_as_root(monkeypatch):
    _missing(monkeypatch, ci=True, root=True)
    calls = []
    monkeypatch.setattr(
        require_tool_module, "ensure_host_tool", lambda c, log: calls.append(c) or f"/usr/bin/{c}"
    )
    assert require_tool("Xvfb") == "/usr/bin/Xvfb"
    assert calls == ["Xvfb"]


def test_require_tool_fails_in_one_line_when_installing_fails(monkeypatch):
    _missing(monkeypatch, ci=True, root=True)

    def failing(command: str, logfile: Path) -> str:
        raise BuildError(f"many\nlines\nerror: installing xvfb failed; full log: {logfile}")

    monkeypatch.setattr(require_tool_module, "ensure_host_tool", failing)
    with pytest.raises(pytest.fail.Exception) as failed:
        require_tool("Xvfb")
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("needs Xvfb (Debian package xvfb), and installing it failed: ")
    assert "installing xvfb failed; full log: " in message


# --- the tests themselves ---------------------------------------------------------------------


def _calls(name: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(TESTS.glob("*.py")):
        if path.name == Path(__file__).name:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == name:
                    found.append((path.name, node))
    return found


def test_tests_find_host_programs_only_through_require_tool():
    """Every test that runs a host program asks require_tool (it installs under CI); no test
    looks one up and skips by itself, and none skips for a missing Python package (the dev
    requirements have them all)."""
    which = [name for name, _ in _calls("which") if name != "require_tool.py"]
    assert not which, f"shutil.which in {which}: use require_tool"
    assert not _calls("importorskip"), "a dev requirement is imported, never skipped"


def test_every_required_tool_is_listed():
    commands = set()
    for name, call in _calls("require_tool"):
        assert call.args and isinstance(call.args[0], ast.Constant), name
        commands.add(call.args[0].value)
    assert {"cc", "objdump", "readelf", "nm", "Xvfb", "git", "pkg-config"} <= commands
    for command in commands:
        host_tool(command)  # raises for an unlisted one
