"""``python -m pythonbuild ci-matrix``: the committed workflow is current, lint-clean, complete."""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from pythonbuild.options import parse_options, valid_choices
from pythonbuild.registry import load_registry
from pythonbuild.release import ci_matrix
from pythonbuild.targets import load_targets

ACTIONLINT = Path(sys.executable).parent / "actionlint"


def _builds(workflow: dict) -> list[tuple[str, str, str]]:
    """Every (target, python, options) the workflow's build matrices run."""
    found = []
    for job_id, job in workflow["jobs"].items():
        if not job_id.startswith("build-"):
            continue
        matrix = job["strategy"]["matrix"]
        for python, options in itertools.product(matrix["python"], matrix["options"]):
            found.append((job["env"]["TARGET"], python, options))
    return found


def test_committed_workflow_is_what_the_generator_writes() -> None:
    expected = ci_matrix.render(ci_matrix.repository_matrix(), ci_matrix.load_skeleton())
    assert ci_matrix.WORKFLOW.read_text() == expected, "run python -m pythonbuild ci-matrix"


def test_check_fails_with_one_line_on_a_stale_file(tmp_path: Path, capsys) -> None:
    stale = tmp_path / "build.yml"
    stale.write_text(ci_matrix.WORKFLOW.read_text() + "# edited\n")
    assert ci_matrix.main(["--check", "--output", str(stale)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {stale} is out of date; run python -m pythonbuild ci-matrix"]
    assert ci_matrix.main(["--output", str(stale)]) == 0
    assert ci_matrix.main(["--check", "--output", str(stale)]) == 0


def test_committed_workflow_is_lint_clean() -> None:
    result = subprocess.run(
        [str(ACTIONLINT), "-shellcheck=", "-pyflakes=", str(ci_matrix.WORKFLOW)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_supported_build_appears_exactly_once() -> None:
    workflow = yaml.safe_load(ci_matrix.WORKFLOW.read_text())
    builds = _builds(workflow)
    expected = [
        (triple, python, options)
        for triple, target in load_targets().items()
        for python in target.pythons
        for options in valid_choices()
        if not (target.foreign and "pgo" in options)  # training needs the target's CPU
        and target.refusal(parse_options(options)) is None
    ]
    assert sorted(builds) == sorted(expected)
    assert len(set(builds)) == len(builds)
    assert ("aarch64-unknown-linux-gnu", "3.13", "noopt") in builds
    assert ("aarch64-unknown-linux-gnu", "3.13", "pgo+lto") not in builds
    assert ("x86_64-unknown-linux-musl", "3.13", "lto+static") in builds
    assert ("x86_64-unknown-linux-gnu", "3.13", "lto+static") not in builds


def test_static_builds_get_their_own_library_run() -> None:
    """+static links another musl, so its libraries are other artifacts than the dynamic
    builds': the libraries job makes both sets, and only where the target has +static."""
    jobs = yaml.safe_load(ci_matrix.WORKFLOW.read_text())["jobs"]
    musl = jobs["libraries-x86_64-unknown-linux-musl"]
    gnu = jobs["libraries-x86_64-unknown-linux-gnu"]
    assert musl["env"]["LIBRARY_OPTIONS"].split() == ["noopt", "noopt+static"]
    assert gnu["env"]["LIBRARY_OPTIONS"].split() == ["noopt"]


def test_release_needs_every_build_job_and_builds_need_their_libraries() -> None:
    jobs = yaml.safe_load(ci_matrix.WORKFLOW.read_text())["jobs"]
    build_jobs = [job_id for job_id in jobs if job_id.startswith("build-")]
    assert sorted(jobs["release"]["needs"]) == sorted(build_jobs)
    for job_id in build_jobs:
        assert jobs[job_id]["needs"] == job_id.replace("build-", "libraries-", 1)
        assert jobs[job_id]["strategy"]["fail-fast"] is False
        assert len(_builds({"jobs": {job_id: jobs[job_id]}})) <= ci_matrix.MATRIX_LIMIT


def test_a_target_without_a_runner_label_is_left_out() -> None:
    targets = dict(load_targets())
    arm = replace(targets["x86_64-unknown-linux-gnu"], triple="armv9-test-linux-gnu",
                  host_platforms=("linux_aarch64",))  # fmt: skip
    targets[arm.triple] = arm
    runners = {"linux_x86_64": "ubuntu-24.04", "linux_aarch64": None}
    matrix = ci_matrix.plan_matrix(
        targets, load_registry().python_versions(), valid_choices(), runners
    )
    text = ci_matrix.render(matrix, ci_matrix.load_skeleton())
    assert {t for t, _, _ in _builds(yaml.safe_load(text))} == set(load_targets())
    assert "armv9-test-linux-gnu (linux_aarch64)" in text.split("\nname:")[0]
    # Given a label, it is built there.
    labelled = ci_matrix.plan_matrix(
        targets, load_registry().python_versions(), valid_choices(),
        {**runners, "linux_aarch64": "ubuntu-24.04-arm"},
    )  # fmt: skip
    assert [t.runner for t in labelled.targets if t.triple == arm.triple] == ["ubuntu-24.04-arm"]


def test_a_python_the_registry_does_not_pin_is_an_error() -> None:
    targets = {"x": replace(load_targets()["x86_64-unknown-linux-gnu"], pythons=("3.99",))}
    with pytest.raises(ci_matrix.BuildError, match=r"3\.99"):
        ci_matrix.plan_matrix(targets, load_registry().python_versions(), ["noopt"], {})
