"""The build inputs record: ``python/build/inputs.json`` in every full archive.

It holds what a rebuild needs to produce the same archive and what a comparison needs to
explain a difference: the project commit (and whether the checkout had uncommitted changes),
target, Python, options, tag, the SOURCE_DATE_EPOCH values, every step's source and cache key,
every image's tag, and the PGO profile's sha256 when the build used a recorded profile.

Everything in it follows from the plan and the git checkout, never from the clock, the machine
or the paths of this build, so two builds of the same inputs write the same bytes.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jsonschema

from ..distribution.archive import open_distribution
from ..errors import BuildError
from ..linux.images.build import planned_build_image, rootfs_specs
from ..linux.images.lock import read_lock
from ..linux.plan import DEPENDENCY_SOURCE_DATE_EPOCH, BuildPlan, BuildRequest

INPUTS_MEMBER = "python/build/inputs.json"
INPUTS_FORMAT = 1
SCHEMA_PATH = Path(__file__).with_name("inputs.schema.json")


class InputsError(BuildError):
    """The archive or its inputs record cannot be used: exit 2, like other bad input."""

    exit_code = 2


@dataclass(frozen=True)
class ProjectState:
    commit: str | None  # None: not built from a git checkout
    dirty: bool | None
    dirty_paths: tuple[str, ...] = ()


def _git(root: Path, *args: str) -> str:
    # --no-optional-locks: status must not take index.lock from someone committing meanwhile.
    return subprocess.run(
        ["git", "--no-optional-locks", "-C", str(root), *args],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def project_state(root: Path) -> ProjectState:
    """HEAD of the checkout at ``root`` and the paths that differ from it.

    Untracked files count (a new patch the build reads is as much a change as an edited one);
    ignored files (build/, dist/) do not.
    """
    try:
        commit = _git(root, "rev-parse", "--verify", "HEAD").strip()
        status = _git(root, "status", "--porcelain=v1", "-z", "--no-renames",
                      "--untracked-files=normal")  # fmt: skip
    except (subprocess.CalledProcessError, FileNotFoundError):
        return ProjectState(None, None)
    # Entries are "XY <path>\0"; with --no-renames there is never a second path.
    paths = sorted({entry[3:] for entry in status.split("\0") if entry})
    return ProjectState(commit, bool(paths), tuple(paths))


def _image_entries(plan: BuildPlan) -> list[dict]:
    lock = read_lock()
    base, sysroot = rootfs_specs(plan.request.target, lock)
    build_tag = planned_build_image(plan.request.target, lock).tag
    return [
        {"role": role, "tag": tag, "input_hash": tag.rsplit(":", 1)[-1]}
        for role, tag in (("base", base.tag), ("sysroot", sysroot.tag), ("build", build_tag))
    ]


def pgo_profile_sha256(request: BuildRequest) -> str | None:
    """The sha256 of the profile bundle given with ``--pgo-profile`` (None: none was given).

    A pgo build without one trains its own profile, which varies from run to run; such an
    archive is reproduced by replaying the bundle it wrote beside itself (docs/reproducibility.md).
    """
    return request.pgo_profile.sha256 if request.pgo_profile is not None else None


def build_inputs(plan: BuildPlan, project: ProjectState) -> dict:
    """The record of ``plan`` built from ``project``, as a JSON-ready dict."""
    request = plan.request
    return {
        "format": INPUTS_FORMAT,
        "project": {
            "commit": project.commit,
            "dirty": project.dirty,
            "dirty_paths": list(project.dirty_paths),
        },
        "target": request.target.triple,
        "python": request.python,
        "python_version": plan.step("cpython").source.version,
        "options": request.options.name,
        "tag": request.tag,
        "source_date_epoch": {
            "archive": request.source_date_epoch,
            "cpython": request.cpython_epoch,
            "dependencies": DEPENDENCY_SOURCE_DATE_EPOCH,
        },
        "steps": [
            {
                "name": step.name,
                "source": step.source.name,
                "version": step.source.version,
                "sha256": step.source.sha256,
                "key": step.key,
                "artifact": step.artifact_name,
            }
            for step in plan.steps
        ],
        "images": _image_entries(plan),
        "pgo_profile_sha256": pgo_profile_sha256(request),
    }


def render_inputs(record: dict) -> bytes:
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class BuildInputs:
    """A validated record (see inputs.schema.json for the fields)."""

    data: dict

    @property
    def commit(self) -> str | None:
        return self.data["project"]["commit"]

    @property
    def dirty(self) -> bool | None:
        return self.data["project"]["dirty"]

    @property
    def dirty_paths(self) -> list[str]:
        return self.data["project"]["dirty_paths"]

    @property
    def target(self) -> str:
        return self.data["target"]

    @property
    def python(self) -> str:
        return self.data["python"]

    @property
    def options(self) -> str:
        return self.data["options"]

    @property
    def tag(self) -> str:
        return self.data["tag"]

    @property
    def archive_epoch(self) -> int:
        return self.data["source_date_epoch"]["archive"]

    @property
    def cpython_epoch(self) -> int:
        return self.data["source_date_epoch"]["cpython"]

    @property
    def pgo_profile_sha256(self) -> str | None:
        return self.data["pgo_profile_sha256"]


@contextmanager
def reading_as_inputs_error(path: Path) -> Iterator[None]:
    """Damage found while reading ``path`` (a BuildError from archive.py) or an I/O error, as the
    InputsError that `reproduce` reports as bad input (exit 2)."""
    try:
        yield
    except InputsError:
        raise
    except BuildError as exc:
        raise InputsError(str(exc)) from None
    except OSError as exc:
        raise InputsError(f"{path}: cannot read ({exc.strerror or exc})") from None


def parse_inputs(data: bytes, where: str) -> BuildInputs:
    """Validate the bytes of a record; ``where`` names it in errors."""
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputsError(f"{where}: not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise InputsError(f"{where}: not a JSON object")
    found = record.get("format")
    if found != INPUTS_FORMAT:
        raise InputsError(
            f"{where}: unknown inputs record format {found!r}; this checkout reads format "
            f"{INPUTS_FORMAT} (use the project commit that built the archive)"
        )
    schema = json.loads(SCHEMA_PATH.read_text())
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(record)
    )
    if error is not None:
        field = "/".join(str(part) for part in error.absolute_path) or "(top)"
        raise InputsError(f"{where}: invalid inputs record at {field}: {error.message}")
    return BuildInputs(record)


def read_inputs(archive: Path) -> BuildInputs:
    """The record in a full archive; InputsError when it is missing, damaged or unknown."""
    if not archive.is_file():
        raise InputsError(f"{archive}: no such file")
    # The record sits in python/build/, after the installation: the archive is read up to it
    # and no further (nothing is verified past it; the comparison reads it all).
    with reading_as_inputs_error(archive), open_distribution(archive, verify=False) as tar:
        for member in tar:
            if member.name == INPUTS_MEMBER and member.isreg():
                handle = tar.extractfile(member)
                assert handle is not None
                return parse_inputs(handle.read(), f"{archive.name}:{INPUTS_MEMBER}")
    raise InputsError(
        f"{archive.name} has no {INPUTS_MEMBER}: it is not a full archive, or was built before "
        "build inputs were recorded; rebuild it, or compare two archives with --compare"
    )
