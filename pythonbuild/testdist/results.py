"""Test outcomes: counting them, the one-line summary, and JUnit XML in and out."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import log
from ..errors import BuildError

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
OUTCOMES = (PASSED, FAILED, SKIPPED)


@dataclass(frozen=True)
class CaseResult:
    suite: str  # "smoke", "smoke-trixie", "regrtest", ...
    name: str  # a smoke check's name, or a regrtest test id
    outcome: str  # one of OUTCOMES
    seconds: float = 0.0
    message: str = ""
    details: str = ""


@dataclass(frozen=True)
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    excluded: int = 0

    @classmethod
    def of(cls, cases: Iterable[CaseResult], excluded: int = 0) -> Tally:
        counts = dict.fromkeys(OUTCOMES, 0)
        for case in cases:
            counts[case.outcome] += 1
        return cls(counts[PASSED], counts[FAILED], counts[SKIPPED], excluded)


def summary_line(what: str, tally: Tally, seconds: float) -> str:
    """``<what>: 12 passed, 0 failed, 1 skipped, 0 excluded in 1m05s``"""
    return (
        f"{what}: {tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped, "
        f"{tally.excluded} excluded in {log.format_seconds(seconds)}"
    )


# ---------------------------------------------------------------------------------------------
# JUnit out


def write_junit(path: Path, name: str, cases: list[CaseResult]) -> None:
    """One ``<testsuite>`` per suite, in first-seen order, under a ``<testsuites>`` root."""
    root = ET.Element("testsuites", name=name)
    suites: dict[str, list[CaseResult]] = {}
    for case in cases:
        suites.setdefault(case.suite, []).append(case)
    for suite_name, suite_cases in suites.items():
        tally = Tally.of(suite_cases)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=suite_name,
            tests=str(len(suite_cases)),
            failures=str(tally.failed),
            errors="0",
            skipped=str(tally.skipped),
            time=f"{sum(c.seconds for c in suite_cases):.3f}",
        )
        for case in suite_cases:
            classname, _, short = case.name.rpartition(".")
            element = ET.SubElement(
                suite,
                "testcase",
                classname=f"{suite_name}.{classname}" if classname else suite_name,
                name=short,
                time=f"{case.seconds:.3f}",
            )
            if case.outcome == FAILED:
                ET.SubElement(element, "failure", message=case.message).text = case.details
            elif case.outcome == SKIPPED:
                ET.SubElement(element, "skipped", message=case.message)
    totals = Tally.of(cases)
    root.set("tests", str(len(cases)))
    root.set("failures", str(totals.failed))
    root.set("errors", "0")
    root.set("skipped", str(totals.skipped))
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------
# regrtest's JUnit and console output in


def read_regrtest_junit(path: Path, suite: str = "regrtest") -> list[CaseResult]:
    """Test cases of regrtest's ``--junit-xml`` file, one per test id.

    A test that ran again (``--rerun``) appears twice; the later run is what counts, as it is
    for regrtest's own verdict.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise BuildError(f"cannot read regrtest's JUnit file {path}: {exc}") from None
    cases: dict[str, CaseResult] = {}
    for element in root.iter("testcase"):
        test_id = element.get("name", "")
        if not test_id:
            # regrtest leaves an empty <testcase/> for a test whose subtest failed; that
            # failure comes from its console output instead (file_level_cases).
            continue
        seconds = float(element.get("time") or 0)
        problem = element.find("failure")
        if problem is None:
            problem = element.find("error")
        skipped = element.find("skipped")
        unexpected = element.find("outcome")  # an unexpected success fails a unittest run
        if problem is not None:
            message = (problem.get("message") or "").strip().splitlines()
            case = CaseResult(
                suite, test_id, FAILED, seconds, message[-1] if message else "", problem.text or ""
            )
        elif unexpected is not None:
            case = CaseResult(suite, test_id, FAILED, seconds, "unexpected success")
        elif skipped is not None:
            case = CaseResult(suite, test_id, SKIPPED, seconds, (skipped.text or "").strip())
        else:
            case = CaseResult(suite, test_id, PASSED, seconds)
        cases.pop(test_id, None)  # re-insert: a re-run moves to the end
        cases[test_id] = case
    return list(cases.values())


_SECTION = re.compile(r"^(\d+) (?:tests?|re-run tests?) (.+):$")
_FILE_SKIPPED = re.compile(r"^(test[\w.]*) skipped -- (.+)$")


@dataclass(frozen=True)
class RegrtestReport:
    """What regrtest's console output says per test *file* (the JUnit file has only cases)."""

    sections: dict[str, list[str]]  # e.g. "failed" -> ["test_os"], "skipped" -> [...]
    skip_reasons: dict[str, str]  # test file -> why it was skipped as a whole

    @property
    def failed_files(self) -> list[str]:
        return self.sections.get("failed", [])


def parse_regrtest_output(text: str) -> RegrtestReport:
    """The final ``N tests failed:``-style lists and the ``test_x skipped -- why`` lines."""
    sections: dict[str, list[str]] = {}
    skip_reasons: dict[str, str] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if match := _FILE_SKIPPED.match(line):
            skip_reasons[match[1]] = match[2]
        if match := _SECTION.match(line):
            # A new result block replaces an earlier one of the same name (e.g. after a re-run).
            current = sections[match[2]] = []
        elif current is not None and line.startswith("    ") and line.strip():
            current += line.split()
        else:
            current = None
    return RegrtestReport(sections, skip_reasons)


def file_level_cases(
    report: RegrtestReport, cases: list[CaseResult], suite: str = "regrtest"
) -> list[CaseResult]:
    """Cases for what regrtest reports per file and its JUnit file cannot show.

    A file skipped as a whole (a missing module, a resource not enabled) has no test cases; a
    file that crashed, timed out or failed to import has no failing case.
    """
    extra = []
    for name, reason in sorted(report.skip_reasons.items()):
        extra.append(CaseResult(suite, name, SKIPPED, message=reason))
    failing_ids = [c.name for c in cases if c.outcome == FAILED]
    for name in report.failed_files:
        module = name if name.startswith("test.") else f"test.{name}"
        if not any(test_id.startswith(module + ".") for test_id in failing_ids):
            extra.append(
                CaseResult(
                    suite,
                    name,
                    FAILED,
                    message="failed with no failing test case in the JUnit file (a failed "
                    "subtest, a crash, a timeout or an error outside tests); see the regrtest log",
                )
            )
    return extra
