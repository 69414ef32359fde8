"""The skip policy (skip_policy.py, allowed-skips.yml): under CI=true an unlisted skip fails the run.

Each case runs pytest in a subprocess on a small test file in a temporary directory, with the
policy plugin and the project's allowed list, and looks at its exit status and output.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from skip_policy import allowed_skips, is_allowed

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

UNLISTED = "no frobnicator on this machine"
LISTED = "debug builds compile the interpreter with -Og"


def _run(tmp_path: Path, body: str, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's configuration
    (tmp_path / "test_sample.py").write_text("import pytest\n\n" + textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(ROOT)])
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "skip_policy", "-p", "no:cacheprovider", "-q",
         "test_sample.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


SKIPS = {
    "in the test": f"""
        def test_it():
            pytest.skip({UNLISTED!r})
        """,
    "by a mark": f"""
        @pytest.mark.skipif(True, reason={UNLISTED!r})
        def test_it():
            pass
        """,
    "in a fixture": f"""
        @pytest.fixture
        def tool():
            pytest.skip({UNLISTED!r})

        def test_it(tool):
            pass
        """,
    "the whole module": f"""
        pytest.skip({UNLISTED!r}, allow_module_level=True)
        """,
}


@pytest.mark.parametrize("where", SKIPS)
def test_an_unlisted_skip_fails_under_ci_and_is_named(tmp_path: Path, where: str):
    result = _run(tmp_path, SKIPS[where], ci="true")
    assert result.returncode == 1, result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("SKIP NOT ALLOWED")]
    assert len(lines) == 1 and lines[0].endswith(f": {UNLISTED}"), result.stdout
    assert "test_sample.py" in lines[0]
    assert "1 skip(s) not allowed under CI" in result.stdout


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_a_skip_is_a_skip(tmp_path: Path, ci: str | None):
    result = _run(tmp_path, SKIPS["in the test"], ci=ci)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "NOT ALLOWED" not in result.stdout


def test_a_listed_skip_passes_under_ci(tmp_path: Path):
    body = f"""
        @pytest.mark.skipif(True, reason={LISTED!r})
        def test_listed():
            pass

        def test_other():
            pass
        """
    result = _run(tmp_path, body, ci="true")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout


def test_a_failing_run_keeps_its_status(tmp_path: Path):
    body = f"""
        def test_skipped():
            pytest.skip({UNLISTED!r})

        def test_failing():
            assert False
        """
    result = _run(tmp_path, body, ci="true")
    assert result.returncode == 1 and "SKIP NOT ALLOWED" in result.stdout, result.stdout


def test_allowed_reasons_match_whole_reasons_only():
    assert is_allowed(LISTED)
    assert not is_allowed(f"{LISTED}, and more")
    assert is_allowed("checking existing archives (STANDALONE_PYTHON_E2E_DIST): nothing was built")
    assert not is_allowed("needs objdump (Debian package binutils)")


def test_every_allowed_skip_says_why():
    assert allowed_skips()
    for entry in allowed_skips():
        assert len(entry.why.split()) >= 8, entry


def _skip_reasons(path: Path) -> list[ast.expr]:
    """The reason argument of every pytest.skip(...) and skipif(..., reason=...) in ``path``."""
    reasons = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr == "skip" and node.args:
            reasons.append(node.args[0])
        elif node.func.attr in ("skip", "skipif"):
            reasons += [k.value for k in node.keywords if k.arg == "reason"]
    return reasons


def test_every_skip_in_the_tests_has_an_allowed_reason():
    """Checked here, not only on CI: a skip the CI run would reject fails the fast tests.
    require_tool's skip (a missing program) is the one that is never allowed."""
    found = 0
    for path in sorted(TESTS.glob("test_*.py")):
        for reason in _skip_reasons(path):
            where = f"{path.name}:{reason.lineno}"
            assert isinstance(reason, ast.Constant), f"{where}: say the reason as a literal"
            assert is_allowed(reason.value), (
                f"{where}: {reason.value!r} is not in allowed-skips.yml"
            )
            found += 1
    assert found >= 5
