"""Under ``CI=true`` a skipped test fails the run unless its reason is on the allowed list.

A skip is allowed only where what the test checks cannot exist on that machine or in that run
(no root, an option the archive under test was not built with, archives checked without a
build); each allowed reason is in tests/allowed-skips.yml with why. Anything else, a missing
tool above all, is a failure on CI: the run ends with exit status 1 and one line per such skip.
Loaded by tests/conftest.py (``pytest_plugins``); deselected tests (``-m 'not slow'``) are not
skips.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

ALLOWED_SKIPS_FILE = Path(__file__).with_name("allowed-skips.yml")


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


@dataclass(frozen=True)
class AllowedSkip:
    reason: re.Pattern[str]  # matches the whole skip reason
    why: str


@cache
def allowed_skips() -> tuple[AllowedSkip, ...]:
    entries = yaml.safe_load(ALLOWED_SKIPS_FILE.read_text())["allowed"]
    return tuple(AllowedSkip(re.compile(e["reason"]), e["why"]) for e in entries)


def is_allowed(reason: str) -> bool:
    return any(entry.reason.fullmatch(reason) for entry in allowed_skips())


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


class SkipPolicy:
    """Collects the skips whose reason is not allowed; fails the session if there are any."""

    def __init__(self) -> None:
        self.unexpected: list[str] = []

    def _record(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = skip_reason(report)
            if not is_allowed(reason):
                self.unexpected.append(f"{report.nodeid}: {reason}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._record(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        passing = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
        if self.unexpected and session.exitstatus in passing:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.unexpected:
            return
        terminalreporter.write_sep(
            "=", f"{len(self.unexpected)} skip(s) not allowed under CI", red=True
        )
        for line in self.unexpected:
            terminalreporter.write_line(f"SKIP NOT ALLOWED {line}", red=True)
        terminalreporter.write_line(
            f"(a skip under CI=true fails unless {ALLOWED_SKIPS_FILE.name} allows its reason)"
        )


def pytest_configure(config: pytest.Config) -> None:
    if under_ci():
        config.pluginmanager.register(SkipPolicy(), "skip-policy")
