"""Rebuild an archive from its inputs record: the recorded commit, target, Python and options.

The rebuild runs the recorded commit's own ``build-linux.py`` in a temporary ``git worktree`` of
that commit, also when this checkout is at it: a rebuild takes many minutes, and a checkout that
people edit meanwhile would slip their uncommitted changes into it. It writes into a fresh dist
directory and, unless told to reuse them, a fresh artifact cache, so every build step really
runs again; only the downloaded sources (checked against their sha256 anyway) and the images'
package records are shared with the normal cache. Images are found by their input-hash tags.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildError
from ..linux.images.packages import records_dir
from ..linux.pgo_profile import bundle_name, read_bundle
from ..linux.plan import CPYTHON_BUILD_INPUTS
from ..options import parse_options
from ..paths import ROOT
from .members import file_sha256
from .record import BuildInputs, InputsError

# Paths (relative to a checkout) that reproduce relies on in the recorded commit.
BUILD_SCRIPT = "build-linux.py"
# build-linux.py's command line; a recorded commit older than the Linux wing has it at the second.
BUILD_CLI_PATHS = ("pythonbuild/linux/cli.py", "pythonbuild/cli_linux.py")
REQUIREMENTS = "requirements.txt"
BUILD_VENV = "build/venv-build"  # where bootstrap puts build-linux.py's venv


# What a rebuild's inputs record cannot repeat: a dirty checkout's state (rebuilt clean, with
# --ignore-dirty) and a trained profile (replayed, so the record names it and the CPython key
# includes it).
DIRTY_FIELDS = ("project.dirty", "project.dirty_paths")
TRAINED_PROFILE_FIELDS = ("pgo_profile_sha256", "steps[cpython].key", "steps[cpython].artifact")


class RebuildFailed(BuildError):
    """The rebuild itself did not produce an archive (exit 3: neither same nor different)."""

    exit_code = 3


@dataclass(frozen=True)
class RebuildSettings:
    archive: Path
    cache_dir: Path  # the normal cache: its sources and image records are reused
    work_dir: Path  # a fresh run directory is made inside
    pgo_profile: Path | None = None
    reuse_artifacts: bool = False  # reuse the build steps' artifacts: only reassemble
    ignore_dirty: bool = False
    keep: bool = False
    dry_run: bool = False


@dataclass
class RebuildPlan:
    """What the rebuild will run, decided before anything is created."""

    commit: str
    profile: Path | None
    epoch_env: dict[str, str]
    notes: list[str] = field(default_factory=list)
    # Fields of the inputs record the rebuild cannot make equal (inputs_diff.flatten names).
    expected_record_changes: set[str] = field(default_factory=set)


def _git(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=check
    )


def _git_out(*args: str) -> str:
    try:
        return _git(*args).stdout
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise InputsError(f"git {' '.join(args)} failed: {' '.join(detail.split())}") from None


def _file_at(commit: str, path: str) -> bytes | None:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{commit}:{path}"], capture_output=True, check=False
    )
    return result.stdout if result.returncode == 0 else None


def _build_cli_at(commit: str) -> bytes:
    """The source of build-linux.py's command line at ``commit`` (empty: none found)."""
    for path in BUILD_CLI_PATHS:
        if (text := _file_at(commit, path)) is not None:
            return text
    return b""


def check_recorded_tree(inputs: BuildInputs, ignore_dirty: bool) -> list[str]:
    """Refuse records that no checkout can reproduce; returns notes for what is allowed."""
    if inputs.commit is None:
        raise InputsError(
            "the archive records no project commit (it was built outside a git clone), so "
            "there is no tree to rebuild it from"
        )
    if not inputs.dirty:
        return []
    shown = ", ".join(inputs.dirty_paths[:8]) + (" ..." if len(inputs.dirty_paths) > 8 else "")
    what = f"uncommitted changes in {len(inputs.dirty_paths)} path(s): {shown}"
    if not ignore_dirty:
        raise InputsError(
            f"cannot be reproduced exactly: it was built from {inputs.commit[:12]} with {what}, "
            "and those changes are not recorded; rebuild from a clean checkout, or pass "
            "--ignore-dirty to rebuild from the commit anyway"
        )
    return [f"the archive was built with {what}; rebuilding from the commit without them"]


def _commit_time(commit: str, paths: tuple[str, ...] = ()) -> int | None:
    out = _git_out("log", "-1", "--format=%ct", commit, "--", *paths).strip()
    return int(out) if out else None


def epoch_environment(inputs: BuildInputs, commit_epoch: int, cpython_epoch: int | None) -> dict:
    """The SOURCE_DATE_EPOCH a rebuild needs to reproduce the recorded times.

    build-linux.py takes the archive's time from the commit and the CPython step's from the
    last commit that changed its inputs, unless SOURCE_DATE_EPOCH sets both.
    """
    defaults = (commit_epoch, cpython_epoch if cpython_epoch is not None else commit_epoch)
    recorded = (inputs.archive_epoch, inputs.cpython_epoch)
    if recorded == defaults:
        return {}
    if inputs.archive_epoch == inputs.cpython_epoch:
        return {"SOURCE_DATE_EPOCH": str(inputs.archive_epoch)}
    raise InputsError(
        f"the recorded SOURCE_DATE_EPOCH values (archive {recorded[0]}, CPython {recorded[1]}) "
        f"are neither the commit's ({defaults[0]}, {defaults[1]}) nor one value that "
        "SOURCE_DATE_EPOCH could have set; build-linux.py cannot make them again"
    )


def resolve_profile(
    inputs: BuildInputs, archive: Path, given: Path | None
) -> tuple[Path | None, list[str]]:
    """The profile bundle to replay, and notes; InputsError when a pgo archive cannot be redone.

    Without ``--pgo-profile`` the bundle a pgo build writes beside its archive is used.
    """
    pgo = parse_options(inputs.options, implemented_only=False).pgo
    if not pgo:
        if given is not None:
            raise InputsError(f"--pgo-profile: {inputs.options} builds do not use a profile")
        return None, []
    sibling = None
    if archive.name.endswith("-full.tar.zst"):
        sibling = archive.parent / bundle_name(archive.name)
    path = given or (sibling if sibling is not None and sibling.is_file() else None)
    recorded = inputs.pgo_profile_sha256
    if path is None:
        if recorded:
            raise InputsError(
                f"the archive was built with the PGO profile bundle sha256 {recorded}; pass it "
                "with --pgo-profile FILE"
            )
        raise InputsError(
            "the archive trained its own PGO profile, and training varies from run to run; "
            "pass the *-profile.tar.zst its build wrote with --pgo-profile FILE"
        )
    if not path.is_file():
        raise InputsError(f"--pgo-profile {path}: no such file")
    try:
        read_bundle(path)  # the build would refuse it only after starting
    except BuildError as exc:
        raise InputsError(str(exc)) from None
    digest = file_sha256(path)
    if recorded and digest != recorded:
        which = f"--pgo-profile {path}" if given else f"the profile bundle beside it, {path},"
        raise InputsError(
            f"{which} has sha256 {digest}, but the archive was built with the bundle {recorded}; "
            "pass that one with --pgo-profile FILE"
        )
    notes = [f"replaying the PGO profile {path}"]
    if not recorded:
        notes.append(
            "the archive trained its profile: the rebuild replays it, so its inputs record will "
            "differ in pgo_profile_sha256 and the cpython step's key (nothing else should)"
        )
    return path, notes


def plan_rebuild(inputs: BuildInputs, settings: RebuildSettings) -> RebuildPlan:
    notes = check_recorded_tree(inputs, settings.ignore_dirty)
    commit = inputs.commit
    assert commit is not None  # check_recorded_tree refused None
    if _git("cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode != 0:
        raise InputsError(
            f"commit {commit} is not in this clone; fetch it (git fetch origin {commit}) and rerun"
        )
    profile, profile_notes = resolve_profile(inputs, settings.archive, settings.pgo_profile)
    notes += profile_notes
    if profile is not None and b"--pgo-profile" not in _build_cli_at(commit):
        raise InputsError(
            f"build-linux.py at {commit[:12]} has no --pgo-profile option, so it cannot replay "
            "a PGO profile"
        )
    commit_epoch = _commit_time(commit)
    assert commit_epoch is not None  # the commit exists
    epoch_env = epoch_environment(inputs, commit_epoch, _commit_time(commit, CPYTHON_BUILD_INPUTS))
    expected = set(DIRTY_FIELDS) if inputs.dirty else set()
    if profile is not None and not inputs.pgo_profile_sha256:
        expected |= set(TRAINED_PROFILE_FIELDS)
    return RebuildPlan(commit, profile, epoch_env, notes, expected)


def build_command(
    inputs: BuildInputs,
    tree: Path,
    dist: Path,
    cache_dir: Path,
    source_dir: Path | None,
    profile: Path | None,
) -> list[str]:
    command = [
        str(tree / BUILD_SCRIPT),
        "--target", inputs.target,
        "--python", inputs.python,
        "--options", inputs.options,
        "--tag", inputs.tag,
        "--dist", str(dist),
        "--cache-dir", str(cache_dir),
        # Validation judges the archive, it does not change it; the original passed it already.
        "--no-validate",
    ]  # fmt: skip
    if source_dir is not None:
        command += ["--source-dir", str(source_dir)]
    if profile is not None:
        command += ["--pgo-profile", str(profile.resolve())]
    return command


# ---------------------------------------------------------------------------------------------
# Running


def _share_build_venv(tree: Path, commit: str) -> bool:
    """Let the worktree use this checkout's build venv when both pin the same requirements.

    Saves creating a venv (and reaching PyPI) per rebuild. bootstrap reuses a venv whose stamp
    holds the requirements file's sha256, so a link to an equal one is taken as is.
    """
    ours = ROOT / BUILD_VENV
    pinned = _file_at(commit, REQUIREMENTS)
    stamp = ours / "requirements.sha256"
    if pinned is None or not stamp.is_file():
        return False
    if stamp.read_text().strip() != hashlib.sha256(pinned).hexdigest():
        return False
    link = tree / BUILD_VENV
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(ours, target_is_directory=True)
    return True


def _fresh_cache(settings: RebuildSettings, run_dir: Path) -> tuple[Path, Path | None]:
    """A cache with no artifacts, the image records copied in; sources come from the old one."""
    if settings.reuse_artifacts:
        return settings.cache_dir, None
    cache = run_dir / "cache"
    old_records = records_dir(settings.cache_dir)
    if old_records.is_dir():
        # The SBOMs and image-packages.txt name the images' package versions from these records.
        shutil.copytree(old_records, records_dir(cache))
    sources = settings.cache_dir / "sources"
    return cache, sources if sources.is_dir() else None


def _add_worktree(commit: str, tree: Path) -> None:
    result = _git("worktree", "add", "--detach", str(tree), commit, check=False)
    if result.returncode != 0:
        raise RebuildFailed(
            f"git worktree add of {commit[:12]} failed: {' '.join(result.stderr.split())}"
        )


def _remove_worktree(tree: Path, keep_logs: Path) -> None:
    logs = tree / "build" / "logs"
    if logs.is_dir():
        shutil.move(logs, keep_logs)
    venv_link = tree / BUILD_VENV
    if venv_link.is_symlink():
        venv_link.unlink()  # never let a recursive removal reach the shared venv
    _git("worktree", "remove", "--force", str(tree), check=False)
    _git("worktree", "prune", check=False)


def _rebuilt_archive(dist: Path, name: str) -> Path:
    expected = dist / name
    if expected.is_file():
        return expected
    found = sorted(dist.glob("*-full.tar.zst"))
    if len(found) == 1:
        return found[0]
    raise RebuildFailed(f"the rebuild wrote no full archive into {dist} (expected {name})")


def rebuild(
    inputs: BuildInputs,
    settings: RebuildSettings,
    plan: RebuildPlan,
    compare: Callable[[Path], int],
    say: Callable[[str], None],
) -> int:
    """Run the rebuild, hand its full archive to ``compare``; returns compare's exit code.

    The run directory is removed afterwards, except for what explains a bad outcome: the
    rebuilt archives when they differ, the build logs when the rebuild failed (and all of it
    with ``keep``).
    """
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=settings.work_dir))
    tree, dist = run_dir / "tree", run_dir / "dist"
    outcome = "failed"
    try:
        cache, sources = _fresh_cache(settings, run_dir)
        say(f"adding a worktree of {plan.commit[:12]} at {tree}")
        _add_worktree(plan.commit, tree)
        if _share_build_venv(tree, plan.commit):
            say(f"the worktree uses {ROOT / BUILD_VENV} (same requirements.txt)")
        command = build_command(inputs, tree, dist, cache, sources, plan.profile)
        say("running: " + " ".join(command))
        env = {**os.environ, **plan.epoch_env}
        result = subprocess.run(command, cwd=tree, env=env, check=False)
        if result.returncode != 0:
            raise RebuildFailed(
                f"the rebuild failed (build-linux.py exit {result.returncode}); its output is "
                f"above, its logs in {run_dir / 'logs'}"
            )
        code = compare(_rebuilt_archive(dist, settings.archive.name))
        outcome = "identical" if code == 0 else "different"
        return code
    finally:
        if tree.exists():
            _remove_worktree(tree, run_dir / "logs")
        if settings.keep:
            say(f"kept {run_dir}")
        elif outcome == "identical":
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            # The fresh artifact cache is large and says nothing the logs do not.
            shutil.rmtree(run_dir / "cache", ignore_errors=True)
            say(
                f"kept {run_dir} ({'the rebuilt archives' if outcome == 'different' else 'the logs'})"
            )
