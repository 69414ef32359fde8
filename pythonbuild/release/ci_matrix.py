"""``python -m pythonbuild ci-matrix [--check]``: write ``.github/workflows/build.yml``.

The workflow is derived from data the build already has - targets, their Pythons and host
platforms (cpython-unix/targets.yml), the implemented options (options.py), the Pythons the
registry pins (downloads.yml) - plus one file of its own, the runner label of each host
platform (resources/ci-runners.yml). Nothing is listed twice; ``--check`` (and
tests/test_ci_matrix.py) catch a committed workflow that no longer matches. See docs/ci.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ArgumentParser, BuildError, run_command
from ..options import IMPLEMENTED, all_option_names, parse_options
from ..paths import RESOURCES, ROOT
from ..targets import Target

WORKFLOW = ROOT / ".github" / "workflows" / "build.yml"
RUNNERS_FILE = RESOURCES / "ci-runners.yml"
SKELETON_FILE = RESOURCES / "ci-workflow.yml"  # triggers, env, the runner's preparation
COMMAND = "python -m pythonbuild ci-matrix"
# The release job only reads archives and writes files: any Linux runner does; take this one's.
RELEASE_HOST_PLATFORM = "linux_x86_64"
DISTS_DIR = "build/ci/dists"  # the release job: one directory per downloaded build artifact
# Per target, so that one target's 30 builds cannot hold every runner while others wait.
MAX_PARALLEL = 10
# GitHub's limit on the jobs of one matrix.
MATRIX_LIMIT = 256
# Files whose change can change a library step's cache key (plan.step_key): the cache's key.
LIBRARY_INPUTS = "'cpython-unix/**', 'patches/**', 'pythonbuild/resources/downloads.yml'"
SUDO_BUILD = "sudo --preserve-env=STANDALONE_PYTHON_DEBIAN_MIRROR ./build-linux.py"
# Major-version tags: the lowest that actionlint's bundled action data knows and does not flag
# as running on node20, whose removal from the runners was scheduled for 2026-09-23.
CHECKOUT = "actions/checkout@v5"
CACHE = "actions/cache@v5"
UPLOAD = "actions/upload-artifact@v6"
DOWNLOAD = "actions/download-artifact@v7"
SETUP_PYTHON = "actions/setup-python@v6"
TAG_ARGUMENT = '${RELEASE_TAG:+--tag "$RELEASE_TAG"}'  # nothing when no tag was given


@dataclass(frozen=True)
class TargetBuilds:
    """One target's place in the workflow: its runner and the builds it supports."""

    triple: str
    runner: str
    pythons: tuple[str, ...]
    options: tuple[str, ...]

    @property
    def library_options(self) -> tuple[str, ...]:
        """One option set per distinct set of library steps: +static builds link another C
        library, so their libraries are other artifacts (each option set of one link mode
        shares them)."""
        static = any(parse_options(o, implemented_only=False).static for o in self.options)
        return ("noopt", "noopt+static") if static else ("noopt",)

    @property
    def job_suffix(self) -> str:
        return re.sub(r"[^A-Za-z0-9_-]", "-", self.triple)


@dataclass(frozen=True)
class Matrix:
    targets: tuple[TargetBuilds, ...]
    skipped: tuple[tuple[str, tuple[str, ...]], ...]  # (triple, its host platforms)
    unlabelled_platforms: tuple[str, ...]  # host platforms in ci-runners.yml without a label
    release_runner: str

    @property
    def build_count(self) -> int:
        return sum(len(t.pythons) * len(t.options) for t in self.targets)


def load_runners(path: Path = RUNNERS_FILE) -> dict[str, str | None]:
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or any(not isinstance(v, str | None) for v in data.values()):
        raise BuildError(f"{path}: expected a mapping of host platform to runner label or null")
    return data


def plan_matrix(
    targets: Mapping[str, Target],
    known_pythons: Sequence[str],
    options: Sequence[str],
    runners: Mapping[str, str | None],
) -> Matrix:
    """Which target builds where, and which (python, options) each builds."""
    planned, skipped = [], []
    for triple, target in targets.items():
        unknown = [p for p in target.pythons if p not in known_pythons]
        if unknown:
            raise BuildError(
                f"cpython-unix/targets.yml: {triple} builds Python {', '.join(unknown)}, which "
                "pythonbuild/resources/downloads.yml does not pin; add a cpython entry there"
            )
        runner = next((runners[p] for p in target.host_platforms if runners.get(p)), None)
        if runner is None:
            skipped.append((triple, tuple(target.host_platforms)))
            continue
        # PGO trains on the new interpreter, which a runner of another CPU cannot run (yet).
        runnable = tuple(
            o
            for o in options
            if not (target.foreign and "pgo" in o.split("+"))
            and target.refusal(parse_options(o, implemented_only=False)) is None
        )
        builds = TargetBuilds(triple, runner, tuple(target.pythons), runnable)
        if len(builds.pythons) * len(builds.options) > MATRIX_LIMIT:
            raise BuildError(f"{triple}: more than {MATRIX_LIMIT} builds in one matrix")
        planned.append(builds)
    release_runner = runners.get(RELEASE_HOST_PLATFORM)
    if not release_runner:
        raise BuildError(f"{RUNNERS_FILE.name}: {RELEASE_HOST_PLATFORM} needs a runner label")
    unlabelled = tuple(p for p, label in runners.items() if not label)
    return Matrix(tuple(planned), tuple(skipped), unlabelled, release_runner)


def _checkout() -> dict:
    # The whole history: the build's tag and its CPython step's SOURCE_DATE_EPOCH are commit
    # times of particular paths, which a shallow clone would get wrong.
    return {"uses": CHECKOUT, "with": {"fetch-depth": 0}}


# Root's files, made readable and removable for the actions that run as the runner user.
GIVE_BACK = 'sudo chown -R "$(id -u):$(id -g)" build'


def _steps_when(condition: str | None, steps: list[dict]) -> list[dict]:
    """``steps``, each run only when ``condition`` holds (and its own ``if``, if any)."""
    if condition is None:
        return steps
    guarded = []
    for step in steps:
        own = step.get("if")
        rest = {key: value for key, value in step.items() if key not in ("name", "if")}
        when = f"{own} && {condition}" if own else condition
        guarded.append({"name": step["name"], "if": when, **rest})
    return guarded


def _common_steps(condition: str | None, prepare: str) -> list[dict]:
    steps = [{"name": "checkout", **_checkout()}, {"name": "prepare the runner", "run": prepare}]
    return _steps_when(condition, steps)


def _upload_logs(name: str, condition: str) -> dict:
    return {
        "name": "upload the build logs",
        "if": condition,
        "uses": UPLOAD,
        "with": {"name": name, "path": "build/logs", "retention-days": 7},
    }


def _libraries_job(builds: TargetBuilds, prepare: str) -> dict:
    build_each = (
        "for options in $LIBRARY_OPTIONS; do\n"
        "  for python in $PYTHONS; do\n"
        f"    {SUDO_BUILD} \\\n"
        '      --libraries-only --target "$TARGET" --python "$python" --options "$options" \\\n'
        '      --cache-dir "$CACHE_DIR" --no-private-engine\n'
        "  done\n"
        "done\n"
    )
    cache_key = f"libraries-{builds.triple}-${{{{ hashFiles({LIBRARY_INPUTS}) }}}}"
    return {
        "name": f"libraries {builds.triple}",
        "runs-on": builds.runner,
        "timeout-minutes": 240,
        "env": {
            "TARGET": builds.triple,
            "PYTHONS": " ".join(builds.pythons),
            "LIBRARY_OPTIONS": " ".join(builds.library_options),
        },
        "steps": [
            *_common_steps(None, prepare),
            # Artifact names carry their inputs' hash, so an older cache (restore-keys) is
            # safe: what no longer matches is not used, only rebuilt beside it.
            {"name": "restore the library cache", "uses": CACHE,
             "with": {"path": "${{ env.CACHE_DIR }}", "key": cache_key,
                      "restore-keys": f"libraries-{builds.triple}-"}},
            {"name": "build the libraries", "run": build_each},
            {"name": "hand the files back", "if": "always()", "run": GIVE_BACK},
            # This run's build jobs get the cache from here, whatever actions/cache keeps.
            {"name": "upload the library cache", "uses": UPLOAD,
             "with": {"name": f"libraries-{builds.triple}", "path": "${{ env.CACHE_DIR }}",
                      "if-no-files-found": "error", "retention-days": 3}},
            _upload_logs(f"logs-libraries-{builds.triple}", "failure()"),
        ],
    }  # fmt: skip


def _selected(name: str, value: str) -> str:
    # Empty on a tag push (no inputs) or "all": everything; else a space-separated list.
    return (
        f"(!inputs.{name} || inputs.{name} == 'all' || "
        f"contains(format(' {{0}} ', inputs.{name}), format(' {{0}} ', {value})))"
    )


def _build_job(builds: TargetBuilds, prepare: str) -> dict:
    selected = "env.SELECTED == 'true'"
    build = (
        f"{SUDO_BUILD} \\\n"
        '  --target "$TARGET" --python "$PYTHON" --options "$OPTIONS" \\\n'
        f'  --dist "$DIST_DIR" --cache-dir "$CACHE_DIR" --no-private-engine {TAG_ARGUMENT}\n'
    )
    name = f"{builds.triple}-${{{{ matrix.python }}}}-${{{{ matrix.options }}}}"
    return {
        "name": f"build {builds.triple} ${{{{ matrix.python }}}} ${{{{ matrix.options }}}}",
        "needs": f"libraries-{builds.job_suffix}",
        "runs-on": builds.runner,
        "timeout-minutes": 360,
        "strategy": {
            "fail-fast": False,  # one failing build should not cancel the other 29
            "max-parallel": MAX_PARALLEL,
            "matrix": {"python": list(builds.pythons), "options": list(builds.options)},
        },
        "env": {
            "TARGET": builds.triple,
            "PYTHON": "${{ matrix.python }}",
            "OPTIONS": "${{ matrix.options }}",
            # A job outside workflow_dispatch's selection runs no step and uploads nothing.
            "SELECTED": "${{ "
            + _selected("pythons", "matrix.python")
            + " && "
            + _selected("options", "matrix.options")
            + " }}",
        },
        "steps": [
            *_common_steps(selected, prepare),
            *_steps_when(selected, [
                {
                    "name": "download the target's libraries",
                    "uses": DOWNLOAD,
                    "with": {"name": f"libraries-{builds.triple}", "path": "${{ env.CACHE_DIR }}"},
                },
                {"name": "build", "run": build},
                {"name": "hand the files back", "if": "always()", "run": GIVE_BACK},
                {
                    "name": "upload the distribution",
                    "uses": UPLOAD,
                    "with": {"name": f"dist-{name}", "path": "${{ env.DIST_DIR }}",
                             "if-no-files-found": "error"},
                },
                _upload_logs(f"logs-{name}", "failure()"),
            ]),
        ],
    }  # fmt: skip


def _release_job(matrix: Matrix) -> dict:
    release = f'python -m pythonbuild release "{DISTS_DIR}"/*/ --out release/ {TAG_ARGUMENT}\n'
    return {
        "name": "release",
        "needs": [f"build-{t.job_suffix}" for t in matrix.targets],
        "runs-on": matrix.release_runner,
        "timeout-minutes": 60,
        "steps": [
            {"name": "checkout", **_checkout()},
            {"name": "set up Python", "uses": SETUP_PYTHON, "with": {"python-version": "3.13"}},
            # Each artifact into a directory of its own: the dist directories release reads.
            {"name": "download every distribution", "uses": DOWNLOAD,
             "with": {"pattern": "dist-*", "path": DISTS_DIR}},
            {"name": "assemble the release", "run": release},
            {"name": "upload the release", "uses": UPLOAD,
             "with": {"name": "release", "path": "release/", "if-no-files-found": "error"}},
        ],
    }  # fmt: skip


def load_skeleton(path: Path = SKELETON_FILE) -> dict:
    return yaml.safe_load(path.read_text())


def workflow(matrix: Matrix, skeleton: dict) -> dict:
    jobs: dict[str, dict] = {}
    for builds in matrix.targets:
        jobs[f"libraries-{builds.job_suffix}"] = _libraries_job(builds, skeleton["prepare_runner"])
        jobs[f"build-{builds.job_suffix}"] = _build_job(builds, skeleton["prepare_runner"])
    jobs["release"] = _release_job(matrix)
    return {**skeleton["workflow"], "jobs": jobs}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the run scripts) as literal blocks, as a person would write them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _header(matrix: Matrix) -> str:
    skipped = ", ".join(f"{t} ({', '.join(p)})" for t, p in matrix.skipped) or "none"
    lines = [
        f"Generated by `{COMMAND}`; do not edit. Change cpython-unix/targets.yml,",
        "pythonbuild/options.py, pythonbuild/resources/downloads.yml,",
        "pythonbuild/resources/ci-runners.yml or ci-workflow.yml and regenerate (docs/ci.md).",
        "",
        f"{len(matrix.targets)} targets, {matrix.build_count} builds. Per target, a libraries job builds",
        "the target's libraries once into the step cache and a build matrix reuses that cache,",
        "one job per (python, options); the release job gathers every build's dist directory.",
        "",
        "Host platforms without a runner label (ci-runners.yml), so not built here:",
        f"  {', '.join(matrix.unlabelled_platforms) or 'none'}",
        f"Targets left out for want of a runner: {skipped}",
    ]
    return "".join(f"# {line}".rstrip() + "\n" for line in lines) + "\n"


def render(matrix: Matrix, skeleton: dict) -> str:
    body = yaml.dump(workflow(matrix, skeleton), Dumper=_Dumper, sort_keys=False, width=1000)
    return _header(matrix) + body


def repository_matrix() -> Matrix:
    from ..registry import load_registry
    from ..targets import load_targets

    options = [name for name in all_option_names() if name in IMPLEMENTED]
    return plan_matrix(load_targets(), load_registry().python_versions(), options, load_runners())


@dataclass(frozen=True)
class Config:
    check: bool
    output: Path


def parse_args(argv: list[str]) -> Config:
    parser = ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the file differs from what would be written")  # fmt: skip
    parser.add_argument("--output", type=Path, default=WORKFLOW, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return Config(check=args.check, output=args.output)


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run(config: Config) -> int:
    matrix = repository_matrix()
    text = render(matrix, load_skeleton())
    if config.check:
        current = config.output.read_text() if config.output.is_file() else None
        if current != text:
            raise BuildError(f"{_shown(config.output)} is out of date; run {COMMAND}")
        return 0
    config.output.parent.mkdir(parents=True, exist_ok=True)
    config.output.write_text(text)
    print(f"wrote {_shown(config.output)} ({matrix.build_count} builds)")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(COMMAND, sys.argv[1:] if argv is None else argv, parse_args, run)
