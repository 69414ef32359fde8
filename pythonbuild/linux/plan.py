"""From a request (target, Python, options) to a plan: the ordered steps and their cache keys.

A step's key is the hash of everything it reads - image, source bytes, build script and the
shared shell helpers, its whole environment (target flags, options, paths), the driver code that
places its inputs and saves its output, and the keys of the steps whose output it consumes - so
a step reruns exactly when one of those changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import yaml

from ..errors import BuildError, UsageError
from ..options import BuildOptions
from ..paths import PATCHES_DIR, ROOT, UNIX_DIR
from ..registry import Registry, Source
from ..targets import Target
from ..versions import version_matches
from .pgo_profile import RecordedProfile

# Files every container step reads besides its own script.
COMMON_SCRIPTS = ("common.sh",)
# SOURCE_DATE_EPOCH for library builds (2000-01-01). Library artifacts are shared by builds of
# any project commit, so what they embed (OpenSSL's "built on" date) must not depend on the
# commit; only the CPython step gets a commit's time (cpython_build_epoch).
DEPENDENCY_SOURCE_DATE_EPOCH = 946684800


# Where a step's container finds what the driver puts there, and where libraries install.
DEPS_PREFIX = "/tools/deps"
# A step's build_sources: <package>/<file name> under this directory.
BUILD_SOURCES_DIR = "/inputs/build-machine"
# Where build-cpython.sh finds the profiles of --pgo-profile (a tar of pgo_profile.PROFILE_MEMBERS).
PGO_PROFILE_INPUT = "/inputs/pgo-profile.tar"
# The driver code that runs a step: how its inputs are placed in the container and its output
# saved as the artifact. A change there can change what a step makes, so every step's key
# hashes these files (and the environment step_environment makes, as data).
STEP_RUNNER_FILES = ("pythonbuild/linux/steps.py", "pythonbuild/linux/containers.py")

# What the CPython step's output depends on in this repository (besides the source tarballs).
CPYTHON_BUILD_INPUTS = ("cpython-unix", "patches", "pythonbuild/resources/downloads.yml")


@dataclass(frozen=True)
class BuildRequest:
    target: Target
    python: str
    options: BuildOptions
    tag: str
    source_date_epoch: int  # the distribution's: archive member times
    build_epoch: int | None = None  # SOURCE_DATE_EPOCH inside the CPython build, if different
    # Training profiles to use instead of training (pgo builds given --pgo-profile).
    pgo_profile: RecordedProfile | None = field(default=None, compare=False)
    # False when the build machine cannot run target code (its CPU lacks instructions the
    # target's -march may use): the CPython step then runs a separate build interpreter.
    runs_target_code: bool = True

    @property
    def cpython_epoch(self) -> int:
        return self.source_date_epoch if self.build_epoch is None else self.build_epoch


@dataclass
class Step:
    name: str  # registry package name, or "cpython"
    source: Source
    script: Path
    depends: list[str]
    key: str = ""
    extra_files: list[Path] = field(default_factory=list)
    # Sources the step builds for the build machine besides its own (the build interpreter's
    # libraries when the build machine cannot run target code).
    build_sources: list[Source] = field(default_factory=list)

    @property
    def artifact_name(self) -> str:
        return f"{self.name}-{self.source.version}-{self.key[:16]}.tar"


@dataclass
class BuildPlan:
    request: BuildRequest
    image_tag: str
    steps: list[Step]

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def step_environment(request: BuildRequest, step: Step) -> dict[str, str]:
    """What a step's container gets in its environment (besides ``JOBS``, which changes how
    fast it builds, not what): part of the step's key."""
    env = {
        "PACKAGE": step.name,
        # Not in the image, which targets of the same CPU and sysroot share.
        "TARGET_TRIPLE": request.target.triple,
        "VERSION": step.source.version,
        "SOURCE": f"/inputs/{step.source.filename}",
        "STRIP_COMPONENTS": str(step.source.strip_components),
        "PREFIX": DEPS_PREFIX,
        "SOURCE_DATE_EPOCH": str(
            request.cpython_epoch if step.name == "cpython" else DEPENDENCY_SOURCE_DATE_EPOCH
        ),
        **target_flags(request.target, request.options),
    }
    if step.name == request.target.glibc_stubs and request.target.glibc_floor:
        env["GLIBC_FLOOR"] = request.target.glibc_floor
    if step.name == "cpython" and request.target.runtime_link_names:
        env["RUNTIME_LINK_NAMES"] = " ".join(request.target.runtime_link_names)
    if step.name == "cpython":
        modules = extension_modules_for(request.python)
        env.update(cpython_features(request))
        left_out = modules_left_out(request.python, request.options)
        shared = sorted(n for n, e in modules.items() if e.get("shared") and n not in left_out)
        env["SHARED_MODULES"] = " ".join(shared)
        env["DISABLED_MODULES"] = " ".join(sorted(left_out))
        if request.pgo_profile is not None:
            env["PGO_PROFILE"] = PGO_PROFILE_INPUT
    return env


@cache
def _runner_digest(files: tuple[str, ...]) -> list[str]:
    return [_file_digest(ROOT / name) for name in files]


def step_key(
    image_tag: str, step: Step, request: BuildRequest, dep_keys: list[str], flags: dict
) -> str:
    data = {
        "runner": _runner_digest(STEP_RUNNER_FILES),
        "environment": step_environment(request, step),
        "image": image_tag,
        "source": step.source.sha256,
        "script": _file_digest(step.script),
        "common": [_file_digest(UNIX_DIR / name) for name in COMMON_SCRIPTS],
        "extra": [_file_digest(p) for p in step.extra_files],
        "target": request.target.triple,
        "flags": flags,
        "deps": dep_keys,
    }
    if step.build_sources:  # (absent otherwise: the keys of existing artifacts stay valid)
        data["build_sources"] = [source.sha256 for source in step.build_sources]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def target_flags(target: Target, options: BuildOptions) -> dict[str, str]:
    """The compiler flags every package gets for this target and these options."""
    cflags = [f"-march={target.march}"] if target.march else []
    cflags += target.target_cflags
    ldflags = list(target.target_ldflags)
    return {"TARGET_CFLAGS": " ".join(cflags), "TARGET_LDFLAGS": " ".join(ldflags)}


def bolt_applies(target: Target, options: BuildOptions, python: str) -> bool:
    """Whether llvm-bolt rewrites ``python``: pgo+lto builds (BOLT needs PGO's training run) of
    3.12+ (CPython's ``--enable-bolt``) on targets whose ``bolt`` is set.

    Not plain ``pgo``: there ``python`` is linked from the position-independent objects of the
    shared-library build, and llvm-bolt 19 left a pgo ``python`` whose C functions' addresses
    no longer compared equal (test_itertools: 16 "TypeError not raised" failures, where
    ``PyIter_Check`` compares ``tp_iternext`` with ``&_PyObject_NextNotImplemented``). With LTO
    the linker generates the code for the executable itself, and BOLT's result passes the whole
    regression suite (docs/optimizations.md).
    """
    return target.bolt and options.pgo and options.lto and version_matches(python, ">=3.12")


def cpython_features(request: BuildRequest) -> dict[str, str]:
    """How build-cpython.sh builds this interpreter, beyond the options' own configure flags.

    BOLT: see ``bolt_applies``; a build machine that cannot run target code cannot train it,
    so there BOLT needs the recorded profile of --pgo-profile. The tail-calling interpreter
    needs 3.14+ and clang 19+ (our toolchain). BUILD_PYTHON_MARCH (only when the build machine
    cannot run target code) makes build-cpython.sh build and run a separate interpreter.
    """
    options, python = request.options, request.python
    bolt = bolt_applies(request.target, options, python) and (
        request.runs_target_code
        or (request.pgo_profile is not None and request.pgo_profile.has_bolt_profile)
    )
    tail_call = version_matches(python, ">=3.14")
    features = {
        "PYTHON_VERSION": python,
        "BUILD_OPTIONS": options.name,
        "WITH_BOLT": "1" if bolt else "0",
        "WITH_TAIL_CALL_INTERP": "1" if tail_call else "0",
    }
    if not request.runs_target_code:
        features["BUILD_PYTHON_MARCH"] = request.target.build_python_march
        # What sysconfig.get_platform() says on the target, which the build interpreter that
        # describes it (collect-facts.py) cannot know: it runs here.
        features["PLATFORM_TAG"] = request.target.platform_tag
    return features


def load_extension_modules() -> dict[str, dict]:
    return yaml.safe_load((UNIX_DIR / "extension-modules.yml").read_text())


def extension_modules_for(python: str) -> dict[str, dict]:
    return {
        name: entry
        for name, entry in load_extension_modules().items()
        if "python" not in entry or version_matches(python, entry["python"])
    }


def modules_left_out(python: str, options: BuildOptions) -> set[str]:
    """The modules extension-modules.yml disables, and for +static builds the shared ones: a
    static python loads no shared objects, and the test-support modules cannot be compiled in
    (they test the C API as a loaded extension sees it)."""
    modules = extension_modules_for(python)
    left_out = {name for name, entry in modules.items() if entry.get("disabled")}
    if options.static:
        left_out |= {name for name, entry in modules.items() if entry.get("shared")}
    return left_out


def patches_for(package: str) -> list[Path]:
    """``patches/<package>/*.patch``, by name: the build script finds them in /scripts and
    applies them; they are in the step's key, so a changed patch rebuilds the package."""
    return sorted((PATCHES_DIR / package).glob("*.patch"))


def make_plan(request: BuildRequest, registry: Registry, image_tag: str) -> BuildPlan:
    target = request.target
    refusal = target.refusal(request.options)
    if refusal is not None:
        raise UsageError(refusal)
    packages = registry.build_order(
        target.packages_for(request.python), target.sysroot_package(request.options)
    )
    flags = {
        **target_flags(request.target, request.options),
        "SOURCE_DATE_EPOCH": str(DEPENDENCY_SOURCE_DATE_EPOCH),
    }
    steps: list[Step] = []
    keys: dict[str, str] = {}
    for name in packages:
        project = registry[name].project
        script = UNIX_DIR / f"build-{project}.sh"
        if not script.exists():
            raise BuildError(
                f"package {name} has no build script; add cpython-unix/build-{project}.sh"
            )
        depends = registry.step_inputs(name, target.sysroot_package(request.options))
        step = Step(name, registry[name], script, depends, extra_files=patches_for(name))
        step.key = step_key(image_tag, step, request, [keys[d] for d in step.depends], flags)
        keys[name] = step.key
        steps.append(step)
    cpython = Step(
        "cpython",
        registry.cpython(request.python),
        UNIX_DIR / "build-cpython.sh",
        packages,
        extra_files=[UNIX_DIR / "collect-facts.py", UNIX_DIR / "extension-modules.yml"],
    )
    if request.options.static:
        cpython.extra_files += patches_for("cpython-static")
    if target.libc == "musl" and request.options.pgo:
        # Read by build-cpython.sh for the instrumented build (only this one: other builds'
        # keys stay as they were).
        cpython.extra_files.append(UNIX_DIR / "pgo-runtime-shims.c")
    if cpython_features(request)["WITH_BOLT"] == "1":
        cpython.extra_files.append(UNIX_DIR / "bolt-fill-moved.py")
    if not request.runs_target_code:
        # Only these builds read build-python.sh: a change to it rebuilds no native interpreter.
        cpython.extra_files.append(UNIX_DIR / "build-python.sh")
        cpython.build_sources = [registry[name] for name in request.target.build_python_needs]
    cpython_flags = {
        **flags,
        **cpython_features(request),  # BUILD_OPTIONS among them
        "epoch": request.cpython_epoch,
    }
    if request.pgo_profile is not None:
        cpython_flags["pgo_profile"] = request.pgo_profile.sha256
    cpython.key = step_key(image_tag, cpython, request, [keys[d] for d in packages], cpython_flags)
    steps.append(cpython)
    return BuildPlan(request, image_tag, steps)


def _last_commit_time(root: Path, paths: tuple[str, ...] = ()) -> int:
    out = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%ct", "--", *paths],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return int(out)


def cpython_build_epoch(root: Path = ROOT) -> int | None:
    """SOURCE_DATE_EPOCH for the CPython step: the last commit that changed its inputs.

    The interpreter embeds this date (``sys.version``'s build date). Taking it from the commit
    that last changed the build's inputs, rather than from the project's last commit, keeps a
    cached interpreter valid across commits that only touch the driver, tests or docs.
    """
    try:
        return _last_commit_time(root, CPYTHON_BUILD_INPUTS)
    except (subprocess.CalledProcessError, ValueError, FileNotFoundError):
        return None


def build_epochs(root: Path = ROOT) -> tuple[str, int, int | None]:
    """The release tag, the distribution's SOURCE_DATE_EPOCH and the CPython step's (None: the
    same), as a build of this checkout uses them: a SOURCE_DATE_EPOCH set in the environment
    overrides both epochs."""
    tag, epoch = release_tag(root)
    build_epoch = cpython_build_epoch(root)
    if os.environ.get("SOURCE_DATE_EPOCH"):
        epoch = build_epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    return tag, epoch, build_epoch


def release_tag(root: Path = ROOT) -> tuple[str, int]:
    """The distribution tag (YYYYMMDD) and SOURCE_DATE_EPOCH, both from the project's last commit.

    Using the commit time (not now) makes two builds of the same checkout name and stamp their
    outputs identically.
    """
    try:
        epoch = _last_commit_time(root)
    except (subprocess.CalledProcessError, ValueError, FileNotFoundError):
        raise BuildError(
            "cannot read the project's last commit time (needed for the release tag); "
            "build from a git clone, or pass --tag and set SOURCE_DATE_EPOCH"
        ) from None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y%m%d"), epoch
