"""``build-linux.py --libraries-only``: the library steps into the cache, no CPython, no archives."""

from __future__ import annotations

from pathlib import Path

import pytest

from pythonbuild.errors import UsageError
from pythonbuild.linux import driver, plan
from pythonbuild.linux.cli import parse_args
from pythonbuild.options import parse_options, valid_choices
from pythonbuild.registry import load_registry
from pythonbuild.targets import get_target


def test_parse_args_reads_libraries_only(tmp_path: Path) -> None:
    assert not parse_args(["--cache-dir", str(tmp_path)]).libraries_only
    assert parse_args(["--libraries-only", "--cache-dir", str(tmp_path)]).libraries_only
    with pytest.raises(UsageError, match="--libraries-only"):
        parse_args(["--libraries-only", "--options", "pgo", "--pgo-profile", "x.tar.zst"])


def test_one_library_run_serves_every_option() -> None:
    """What CI relies on: the library steps of all options are the same artifacts."""
    target = get_target("x86_64_v3-unknown-linux-gnu")

    def library_artifacts(python: str, options: str) -> list[str]:
        request = plan.BuildRequest(target, python, parse_options(options), "20240101", 1)
        built = plan.make_plan(request, load_registry(), "img:1")
        return [step.artifact_name for step in driver.steps_to_build(built, libraries_only=True)]

    for python in target.pythons:
        first = library_artifacts(python, "noopt")
        assert first and not any(name.startswith("cpython-") for name in first)
        for options in valid_choices():
            if target.refusal(parse_options(options)) is not None:
                continue
            assert library_artifacts(python, options) == first, (python, options)


def test_build_linux_stops_after_the_libraries(tmp_path: Path, monkeypatch) -> None:
    ran: list[str] = []
    fetched: list[str] = []

    def fake_fetch(source, cache_dir, mirrors, log=None):
        fetched.append(source.name)
        return tmp_path / source.filename

    def fake_run_steps(config, build_plan, steps, tarballs, build_tarballs, workspace, lock):
        ran.extend(step.name for step in steps)

    def no_assembly(**kwargs):
        raise AssertionError("a library-only build assembled a distribution")

    monkeypatch.setattr(driver, "fetch_source", fake_fetch)
    monkeypatch.setattr(driver, "_run_steps", fake_run_steps)
    monkeypatch.setattr(driver, "assemble_distribution", no_assembly)
    # Logs go below ROOT/build: not the checkout's (this test would leave an empty log
    # directory there), and the free-space check is not what this test is about.
    monkeypatch.setattr(driver, "ROOT", tmp_path)
    monkeypatch.setenv("STANDALONE_PYTHON_MIN_FREE", "0")
    config = parse_args(["--libraries-only", "--python", "3.14", "--cache-dir", str(tmp_path)])
    driver.build_linux(config)
    assert ran and "cpython" not in ran and "zstd" in ran  # zstd: a 3.14 library
    assert sorted(fetched) == sorted(ran)  # not even CPython's source is fetched
    assert (tmp_path / "build" / "logs" / "x86_64-unknown-linux-gnu-3.14-noopt").is_dir()
