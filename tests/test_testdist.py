"""test-dist: the exclusion data, results and JUnit files, bad input; and (slow) real smoke runs.

The fast tests need no dist/ and no container. The slow ones take the end-to-end build's
archives (the ``build`` fixture in conftest.py; ``STANDALONE_PYTHON_E2E_DIST=dist`` uses
archives built earlier) and run the smoke script on this machine and in bare Debian bullseye
and trixie containers.
"""

from __future__ import annotations

import importlib.util
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
import zstandard
from tarfiles import tar_bytes

from pythonbuild.errors import BuildError
from pythonbuild.testdist import cli
from pythonbuild.testdist.distribution import full_archive_for
from pythonbuild.testdist.exclusions import (
    EXCLUSIONS_FILE,
    exclusions_for,
    load_exclusions,
    parse_exclusions,
    regrtest_arguments,
)
from pythonbuild.testdist.regrtest import RegrtestSettings, regrtest_command
from pythonbuild.testdist.results import (
    CaseResult,
    Tally,
    file_level_cases,
    parse_regrtest_output,
    read_regrtest_junit,
    summary_line,
    write_junit,
)
from pythonbuild.testdist.smoke import SMOKE_SCRIPT, parse_smoke_results

# ---------------------------------------------------------------------------------------------
# Exclusion data


def test_shipped_exclusions_parse_and_every_entry_has_a_reason():
    table = load_exclusions()
    assert "3.13" in table
    raw = yaml.safe_load(EXCLUSIONS_FILE.read_text())
    for version, by_target in raw.items():
        for targets, entries in by_target.items():
            for entry in entries:
                assert len(entry["reason"].split()) >= 4, (version, targets, entry)
    for entries in table.values():
        for entry in entries:
            assert entry.reason and entry.kind in ("module", "case")


def _doc(*entries: dict, targets: str = "*") -> dict:
    return {"3.13": {targets: list(entries)}}


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"module": "test_x"}, "needs a reason"),
        ({"module": "test_x", "reason": "  "}, "needs a reason"),
        ({"module": "test_x", "case": "test.test_x.A.b", "reason": "r"}, "exactly one"),
        ({"reason": "r"}, "exactly one"),
        ({"module": "test.test_x", "reason": "r"}, "no package prefix"),
        ({"case": "test_x.A.b", "reason": "r"}, "full test id"),
        ({"module": "test_x", "reason": "r", "why": "extra"}, "unknown keys"),
        ({"module": "test_x", "reason": "r", "systems": "debian"}, "list of system names"),
        ("test_x", "must be a mapping"),
    ],
)
def test_bad_exclusion_entries_are_refused(entry, complaint):
    with pytest.raises(BuildError, match=complaint):
        parse_exclusions(_doc(entry))


def test_bad_exclusion_documents_are_refused():
    with pytest.raises(BuildError, match="minor version"):
        parse_exclusions({"3": {"*": []}})
    with pytest.raises(BuildError, match="listed twice"):
        parse_exclusions(
            _doc({"module": "test_x", "reason": "a"}, {"module": "test_x", "reason": "b"})
        )
    with pytest.raises(BuildError, match="expected a list"):
        parse_exclusions({"3.13": {"*": {"module": "test_x"}}})


def test_exclusions_select_by_version_target_and_options():
    table = parse_exclusions(
        {
            "3.13": {
                "*": [{"module": "test_all", "reason": "everywhere"}],
                "x86_64_v*-unknown-linux-gnu": [{"module": "test_v", "reason": "levels only"}],
                "x86_64-unknown-linux-gnu": [
                    {
                        "case": "test.test_os.*.test_chown*",
                        "reason": "root",
                        "options": "freethreaded+*",
                    }
                ],
            },
            "3.14": {"*": [{"module": "test_new", "reason": "other version"}]},
        }
    )

    def names(target: str, options: str) -> list[str]:
        return [e.test for e in exclusions_for(table, "3.13", target, options)]

    assert names("x86_64-unknown-linux-gnu", "pgo+lto") == ["test_all"]
    assert names("x86_64-unknown-linux-gnu", "freethreaded+noopt") == [
        "test_all",
        "test.test_os.*.test_chown*",
    ]
    assert names("x86_64_v3-unknown-linux-gnu", "noopt") == ["test_all", "test_v"]
    assert exclusions_for(table, "3.15", "x86_64-unknown-linux-gnu", "noopt") == []


def test_exclusions_limited_to_container_systems():
    """``systems``: only in those --in-container systems (by name, kind or pattern), never on
    this machine; a run's list holds what applies in any of its systems."""
    table = parse_exclusions(
        _doc(
            {"module": "test_all", "reason": "everywhere"},
            {"module": "test_services", "reason": "no netbase", "systems": ["debian"]},
            {"module": "test_ptrace", "reason": "seccomp", "systems": ["*"]},
            {"module": "test_old", "reason": "bullseye's", "systems": ["bullseye"]},
        )
    )

    def names(systems: dict[str, str] | None) -> list[str]:
        chosen = exclusions_for(table, "3.13", "x86_64-unknown-linux-gnu", "noopt", systems=systems)
        return [e.test for e in chosen]

    assert names(None) == ["test_all"]
    assert names({"trixie": "debian"}) == ["test_all", "test_services", "test_ptrace"]
    assert names({"musl": "musl"}) == ["test_all", "test_ptrace"]
    both = names({"musl": "musl", "bullseye": "debian"})
    assert both == ["test_all", "test_services", "test_ptrace", "test_old"]
    services = next(e for e in table["3.13"] if e.test == "test_services")
    assert services.applies_in("sid", "debian") and not services.applies_in("musl", "musl")
    assert not services.applies_in(None)
    # The shipped list leaves the bare systems' gaps out only there.
    shipped = load_exclusions()
    host = exclusions_for(shipped, "3.13", "x86_64-unknown-linux-gnu", "noopt")
    debian = exclusions_for(
        shipped, "3.13", "x86_64-unknown-linux-gnu", "noopt", systems={"bullseye": "debian"}
    )
    gone = {e.test for e in debian} - {e.test for e in host}
    assert "test.test_socket.GeneralModuleTests.testGetServBy" in gone
    assert "test.test_external_inspection.TestGetStackTrace.test_self_trace" in gone


def test_regrtest_arguments_put_modules_last_and_cases_in_an_ignore_file(tmp_path):
    table = parse_exclusions(
        _doc(
            {"module": "test_b", "reason": "r"},
            {"case": "test.test_os.FileTests.test_x", "reason": "r"},
            {"module": "test_a", "reason": "r"},
        )
    )
    ignore = tmp_path / "ignore.txt"
    args = regrtest_arguments(table["3.13"], ignore)
    assert args == ["--ignorefile", str(ignore), "-x", "test_a", "test_b"]
    assert ignore.read_text() == "test.test_os.FileTests.test_x\n"
    cmd = regrtest_command(
        Path("/d/bin/python3"), RegrtestSettings(jobs=2, timeout=60), tmp_path / "j.xml", args
    )
    assert (
        cmd[:3] == ["nice", "-n", "10"] and "-j2" in cmd and cmd[-3:] == ["-x", "test_a", "test_b"]
    )
    assert regrtest_arguments([], tmp_path / "none.txt") == []
    # In a container the file goes in at another path: written here, named as it is there.
    inside = regrtest_arguments(table["3.13"], tmp_path / "c.txt", ignore_file_as="/regrtest/i.txt")
    assert inside[:2] == ["--ignorefile", "/regrtest/i.txt"] and (tmp_path / "c.txt").is_file()


# ---------------------------------------------------------------------------------------------
# Results, summary and JUnit


def test_summary_line_format():
    tally = Tally.of(
        [
            CaseResult("s", "a", "passed"),
            CaseResult("s", "b", "failed"),
            CaseResult("s", "c", "skipped"),
        ],
        excluded=4,
    )
    assert summary_line("test-dist x", tally, 65.2) == (
        "test-dist x: 1 passed, 1 failed, 1 skipped, 4 excluded in 1m05s"
    )
    assert summary_line("y", Tally(), 3.0) == "y: 0 passed, 0 failed, 0 skipped, 0 excluded in 3.0s"


def test_junit_file_has_suites_counts_failures_and_skips(tmp_path):
    cases = [
        CaseResult("smoke", "ssl", "passed", 0.5),
        CaseResult("smoke", "venv_and_pip", "failed", 2.0, "pip failed", "Traceback ..."),
        CaseResult("regrtest", "test.test_os.FileTests.test_x", "skipped", 0, "needs root"),
    ]
    path = tmp_path / "out" / "junit.xml"
    write_junit(path, "test-dist demo", cases)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "1"
    smoke, regrtest = root.findall("testsuite")
    assert (
        smoke.get("name") == "smoke" and smoke.get("failures") == "1" and smoke.get("tests") == "2"
    )
    failure = smoke.find("testcase[@name='venv_and_pip']/failure")
    assert (
        failure is not None
        and failure.get("message") == "pip failed"
        and failure.text == "Traceback ..."
    )
    case = regrtest.find("testcase")
    assert (
        case.get("classname") == "regrtest.test.test_os.FileTests" and case.get("name") == "test_x"
    )
    assert case.find("skipped").get("message") == "needs root"
    assert not list(tmp_path.glob("out/*.partial"))


REGRTEST_JUNIT = """<testsuites tests="5" errors="1" failures="1">
<testsuite tests="4"><testcase name="test.test_a.T.test_ok" status="run" result="completed" time="0.5"/>
<testcase name="test.test_a.T.test_flaky" status="run" result="completed" time="0.1">
  <failure type="AssertionError" message="AssertionError: 1 != 2&#10;">Traceback</failure></testcase>
<testcase name="test.test_a.T.test_skip" status="run" result="completed"><skipped>needs X</skipped></testcase>
<testcase name="test.test_a.T.test_err" status="run" result="completed"><error message="boom">tb</error></testcase>
<testcase name="test.test_a.T.test_lucky" status="run" result="completed"><outcome>UNEXPECTED_SUCCESS</outcome></testcase>
<testcase />
</testsuite>
<testsuite tests="1"><testcase name="test.test_a.T.test_flaky" status="run" result="completed" time="0.2"/></testsuite>
</testsuites>"""


def test_regrtest_junit_counts_the_last_run_of_each_test(tmp_path):
    path = tmp_path / "regrtest.xml"
    path.write_text(REGRTEST_JUNIT)
    cases = {case.name.rsplit(".", 1)[1]: case for case in read_regrtest_junit(path)}
    assert {name: case.outcome for name, case in cases.items()} == {
        "test_ok": "passed",
        "test_flaky": "passed",  # failed, then passed when re-run
        "test_skip": "skipped",
        "test_err": "failed",
        "test_lucky": "failed",
    }
    assert cases["test_skip"].message == "needs X" and cases["test_err"].message == "boom"
    (tmp_path / "bad.xml").write_text("<testsuites>")
    with pytest.raises(BuildError, match="JUnit"):
        read_regrtest_junit(tmp_path / "bad.xml")


REGRTEST_OUTPUT = """\
0:00:00 [ 1/5] test_winreg skipped
test_winreg skipped -- No module named 'winreg'
0:00:01 [ 2/5] test_a failed (1 failure)
test.test_asyncio.test_windows_events skipped -- Windows only

== Tests result: FAILURE ==

10 slowest tests:
- test_a: 3 sec

2 tests skipped:
    test.test_asyncio.test_windows_events
    test_winreg

2 tests failed:
    test_a test_crashy

1 test OK.
"""


def test_regrtest_output_gives_file_level_skips_and_failures():
    report = parse_regrtest_output(REGRTEST_OUTPUT)
    assert report.failed_files == ["test_a", "test_crashy"]
    assert report.sections["skipped"] == ["test.test_asyncio.test_windows_events", "test_winreg"]
    assert report.skip_reasons["test_winreg"] == "No module named 'winreg'"
    junit_cases = [CaseResult("regrtest", "test.test_a.T.test_x", "failed")]
    extra = {case.name: case for case in file_level_cases(report, junit_cases)}
    # test_a's failure is in the JUnit file already; test_crashy's is not (it crashed).
    assert set(extra) == {"test_winreg", "test.test_asyncio.test_windows_events", "test_crashy"}
    assert extra["test_crashy"].outcome == "failed"
    assert extra["test_winreg"].outcome == "skipped"


def test_smoke_results_are_parsed_and_checked():
    text = json.dumps({"python": "3.13", "checks": [
        {"name": "ssl", "outcome": "passed", "seconds": 0.1, "message": "OpenSSL 3"},
        {"name": "venv", "outcome": "failed", "seconds": 1, "message": "m", "details": "d"},
    ]})  # fmt: skip
    cases = parse_smoke_results(text, "smoke-trixie", "here")
    assert [(c.suite, c.name, c.outcome) for c in cases] == [
        ("smoke-trixie", "ssl", "passed"),
        ("smoke-trixie", "venv", "failed"),
    ]
    with pytest.raises(BuildError, match=r"not what smoke\.py writes"):
        parse_smoke_results("{}", "smoke", "here")
    with pytest.raises(BuildError, match="unknown outcome"):
        parse_smoke_results(json.dumps({"checks": [{"name": "a", "outcome": "meh"}]}), "s", "here")


def _load_smoke_script():
    spec = importlib.util.spec_from_file_location("smoke_script", SMOKE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_script_checks_and_outcomes(tmp_path):
    smoke = _load_smoke_script()
    for name in ("version_matches_metadata", "extension_modules_import", "ssl", "sqlite3",
                 "venv_and_pip", "runs_from_path_with_space", "no_system_python"):  # fmt: skip
        assert name in smoke.CHECKS
    ctx = smoke.Context({}, tmp_path, isolated=False)
    assert smoke.run_one("no_system_python", ctx)["outcome"] == "skipped"
    smoke.CHECKS["demo_failure"] = lambda ctx: 1 / 0
    try:
        result = smoke.run_one("demo_failure", ctx)
    finally:
        del smoke.CHECKS["demo_failure"]
    assert result["outcome"] == "failed" and "ZeroDivisionError" in result["details"]


# ---------------------------------------------------------------------------------------------
# Finding the archive and its PYTHON.json; bad input


def test_full_archive_is_found_next_to_install_only(tmp_path):
    stem = "cpython-3.13.15+20261121-x86_64-unknown-linux-gnu"
    for name in (f"{stem}-pgo+lto-full.tar.zst", f"{stem}-noopt-full.tar.zst",
                 f"{stem}-freethreaded+pgo+lto-full.tar.zst"):  # fmt: skip
        (tmp_path / name).touch()
    assert full_archive_for(tmp_path / f"{stem}-install_only.tar.gz").name.endswith(
        "-pgo+lto-full.tar.zst"
    )
    assert full_archive_for(tmp_path / f"{stem}-noopt-install_only.tar.gz").name.endswith(
        "-noopt-full.tar.zst"
    )
    assert (
        "freethreaded+pgo+lto"
        in full_archive_for(tmp_path / f"{stem}-freethreaded-install_only.tar.gz").name
    )
    assert full_archive_for(tmp_path / f"{stem}-debug-install_only.tar.gz") is None


def _tar_zst(path: Path, members: dict[str, bytes]) -> Path:
    path.write_bytes(zstandard.ZstdCompressor().compress(tar_bytes(members)))
    return path


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(
    ("make", "extra", "expected"),
    [
        (lambda d: d / "missing-full.tar.zst", [], "no such file"),
        (lambda d: d / "x-full.tar.zst", ["--no-such-option"], "unrecognized arguments"),
        (lambda d: _file(d / "notes.txt", b"x"), [], "not a distribution archive"),
        (lambda d: _file(d / "bad-full.tar.zst", b"junk"), [], "not a zstd-compressed file"),
        (lambda d: _file(d / "cut-full.tar.zst", b"\x28\xb5\x2f\xfd\x00"), [], "truncated, corrupt"),
        (lambda d: _tar_zst(d / "other-full.tar.zst", {"python/install/x": b"1"}), [],
         "no python/PYTHON.json"),
        (lambda d: _tar_zst(d / "json-full.tar.zst", {"python/PYTHON.json": b"{nope"}), [],
         "not valid JSON"),
        (lambda d: _file(d / "cpython-3.13.1+1-x-install_only.tar.gz", b"\x1f\x8b"), [],
         "no PYTHON.json"),
        (lambda d: d / "x-full.tar.zst", ["--regrtest", "--in-container", "scratch"],
         "scratch does not have; run it with --in-container musl"),
        (lambda d: d / "x-full.tar.zst", ["--in-container", "Not A Suite"], "Debian suite name"),
    ],
)  # fmt: skip
def test_bad_input_is_one_error_line(tmp_path, capsys, make, extra, expected):
    archive = make(tmp_path)
    code, err = _run_cli([str(archive), "--output", str(tmp_path / "out"), *extra], capsys)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error: " in lines[0], err
    assert "Traceback" not in err
    assert re.search(expected, lines[0]), lines[0]


# ---------------------------------------------------------------------------------------------
# Slow: real smoke runs on the end-to-end build's archives


def _junit_totals(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    return {key: int(root.get(key)) for key in ("tests", "failures", "skipped")}


@pytest.mark.slow
@pytest.mark.parametrize("flavor", ["install_only", "full"])
def test_smoke_on_this_machine(build, tmp_path, capsys, flavor):
    junit = tmp_path / "junit.xml"
    code = cli.main([str(build[flavor]), "--output", str(tmp_path), "--junit-xml", str(junit)])
    out = capsys.readouterr().out
    summary = out.strip().splitlines()[-1]
    assert code == 0, out
    assert " 0 failed, " in summary and summary.startswith("test-dist "), summary
    totals = _junit_totals(junit)
    assert totals["failures"] == 0 and totals["tests"] >= 15, totals


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["bullseye", "trixie"])
def test_smoke_in_bare_container(build, tmp_path, capsys, suite):
    """bullseye has the oldest glibc we claim (2.31); trixie a new one. Neither has Python."""
    junit = tmp_path / "junit.xml"
    code = cli.main([str(build["install_only"]), "--in-container", suite, "--output", str(tmp_path),
                     "--junit-xml", str(junit)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    root = ET.parse(junit).getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert cases and all(case.find("failure") is None for case in cases.values()), out
    # In a bare system nothing may be skipped: not the curses check, not the no-Python check.
    assert all(case.find("skipped") is None for case in cases.values()), out
    assert f"smoke-{suite}" in {suite_el.get("name") for suite_el in root.iter("testsuite")}
