"""Cache keys of build steps, Dockerfile rendering and image tags, engine stale-state cleanup."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from pythonbuild.linux import engine, plan
from pythonbuild.linux.images import build as images
from pythonbuild.options import BuildOptions
from pythonbuild.registry import load_registry
from pythonbuild.targets import get_target

TARGET = get_target("x86_64-unknown-linux-gnu")


def _plan(image="img:1", epoch=1_700_000_000, target=TARGET):
    request = plan.BuildRequest(target, "3.13", BuildOptions(), "20231114", epoch)
    return plan.make_plan(request, load_registry(), image)


def test_plan_orders_dependencies_before_users_and_cpython_last():
    steps = [s.name for s in _plan().steps]
    assert steps[-1] == "cpython"
    assert steps.index("ncurses") < steps.index("libedit")
    assert "zstd" not in steps  # 3.14+ only


def test_keys_are_stable_and_change_with_inputs():
    first, again = _plan(), _plan()
    assert [s.key for s in first.steps] == [s.key for s in again.steps]
    other_image = _plan(image="img:2")
    assert all(a.key != b.key for a, b in zip(first.steps, other_image.steps, strict=True))
    # A new SOURCE_DATE_EPOCH only concerns the CPython step, not the libraries.
    later = _plan(epoch=1_800_000_000)
    assert first.step("zlib").key == later.step("zlib").key
    assert first.step("cpython").key != later.step("cpython").key


def test_dependency_change_propagates(monkeypatch, tmp_path):
    unix = tmp_path / "cpython-unix"
    shutil.copytree(plan.UNIX_DIR, unix)
    monkeypatch.setattr(plan, "UNIX_DIR", unix)
    before = _plan()
    script = unix / "build-ncurses.sh"
    script.write_text(script.read_text() + "\n# changed\n")
    after = _plan()
    assert before.step("zlib").key == after.step("zlib").key
    for name in ("ncurses", "libedit", "cpython"):
        assert before.step(name).key != after.step(name).key, name


def test_keys_see_the_driver_code_that_runs_a_step(monkeypatch, tmp_path):
    """A change to how the driver places a step's inputs or saves its output rebuilds every
    step; so does any change to the environment a step gets, wherever it is made."""
    before = _plan()
    runner = []
    for name in plan.STEP_RUNNER_FILES:
        copy = tmp_path / Path(name).name
        copy.write_bytes((plan.ROOT / name).read_bytes())
        runner.append(str(copy))
    monkeypatch.setattr(plan, "STEP_RUNNER_FILES", tuple(runner))
    assert [s.key for s in _plan().steps] == [s.key for s in before.steps]  # same bytes
    Path(runner[-1]).write_text(Path(runner[-1]).read_text() + "\n# output saved another way\n")
    plan._runner_digest.cache_clear()
    changed = _plan()
    assert all(a.key != b.key for a, b in zip(before.steps, changed.steps, strict=True))
    monkeypatch.undo()
    monkeypatch.setattr(plan, "DEPS_PREFIX", "/opt/deps")
    moved = _plan()
    assert all(a.key != b.key for a, b in zip(before.steps, moved.steps, strict=True))
    # JOBS only changes how fast a step builds: not in the environment that is hashed.
    assert "JOBS" not in plan.step_environment(before.request, before.step("zlib"))


def test_build_dockerfile_renders_toolchain_and_sysroot():
    text = images.render_build_dockerfile(TARGET, "base:1", "sysroot:1")
    assert text.startswith("# Build image for x86_64-linux-gnu code")
    assert "FROM base:1" in text and "COPY --from=sysroot:1 / /sysroot/" in text
    for package in ("clang-19", "lld-19", "llvm-19", "make", "perl", "patchelf"):
        assert package in text
    # The glibc floor's tree (made by the first step), not the Debian sysroot's newer glibc.
    assert "--sysroot=/tools/glibc -fuse-ld=lld -Wno-unused" in text
    assert "ENV TARGET_SYSROOT=/tools/glibc" in text


def test_image_tags_follow_inputs():
    a = images.render_build_dockerfile(TARGET, "base:1", "sysroot:1")
    b = images.render_build_dockerfile(TARGET, "base:2", "sysroot:1")
    assert images.build_image_tag(TARGET, a) == images.build_image_tag(TARGET, a)
    assert images.build_image_tag(TARGET, a) != images.build_image_tag(TARGET, b)
    spec = images.RootfsSpec("bullseye", include=("libc6-dev",), keep=("usr",))
    assert spec.tag.startswith("standalone-python/sysroot-bullseye:")
    assert spec.tag != replace(spec, include=("libc6-dev", "linux-libc-dev")).tag


def test_targets_of_one_cpu_and_sysroot_share_one_build_image():
    """x86_64 and its _vN levels differ only in flags: one image (about 1.3 GB), not four."""
    levels = ["x86_64-unknown-linux-gnu"] + [f"x86_64_v{n}-unknown-linux-gnu" for n in (2, 3, 4)]
    tags = {images.planned_build_image(get_target(t)).tag for t in levels}
    assert len(tags) == 1
    assert tags.pop().startswith("standalone-python/build-x86_64-linux-gnu-bullseye:")
    arm = images.planned_build_image(get_target("aarch64-unknown-linux-gnu")).tag
    assert arm.startswith("standalone-python/build-aarch64-linux-gnu-bullseye:")
    # The step's environment still says which target the build is for.
    v3 = _plan(target=get_target("x86_64_v3-unknown-linux-gnu"))
    env = plan.step_environment(v3.request, v3.step("zlib"))
    assert env["TARGET_TRIPLE"] == "x86_64_v3-unknown-linux-gnu"
    assert "-march=x86-64-v3" in env["TARGET_CFLAGS"]


def test_sysroot_symlinks_become_relative(tmp_path):
    root = tmp_path / "rootfs"
    (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    (root / "usr/lib/x86_64-linux-gnu/ld-2.31.so").write_text("loader")
    (root / "usr/lib64").mkdir()
    (root / "usr/lib64/ld-linux-x86-64.so.2").symlink_to("/usr/lib/x86_64-linux-gnu/ld-2.31.so")
    images._relativize_symlinks(root)
    link = root / "usr/lib64/ld-linux-x86-64.so.2"
    assert not os.readlink(link).startswith("/")
    assert link.read_text() == "loader"


@pytest.fixture
def engine_state(monkeypatch, tmp_path) -> Path:
    state = tmp_path / "engine"
    state.mkdir()
    monkeypatch.setattr(engine, "STATE_DIR", state)
    monkeypatch.setattr(engine, "EXEC_ROOT", tmp_path / "exec")
    return state


def test_stale_private_engine_state_is_cleared(engine_state, tmp_path):
    (engine_state / "dockerd.pid").write_text("999999999\n")  # no such process
    (engine_state / "docker.sock").write_text("")
    (tmp_path / "exec" / "containerd").mkdir(parents=True)
    assert engine.clear_stale_state()
    assert not (engine_state / "dockerd.pid").exists()
    assert not (engine_state / "docker.sock").exists()
    assert not (tmp_path / "exec").exists()


def test_live_pid_of_another_program_is_not_our_daemon(engine_state):
    # Our own pid is alive but is not a dockerd with our state dir: its pid file is stale.
    (engine_state / "dockerd.pid").write_text(f"{os.getpid()}\n")
    assert engine.clear_stale_state()


def test_refusing_the_private_engine_explains(monkeypatch, engine_state):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(engine, "SYSTEM_SOCKET", engine_state / "missing.sock")
    with pytest.raises(engine.BuildError, match="no container engine is reachable") as info:
        engine.connect(allow_private=False)
    assert "--no-private-engine" in str(info.value) and "\n" not in str(info.value)


class _Client:
    def close(self) -> None:
        pass


def _private_user(process=None) -> engine.Engine:
    """A run connected to the private daemon, as ``connect`` leaves it."""
    return engine.Engine(
        _Client(), "private", private=True, process=process, users_lock=engine.hold_users_lock()
    )


class _Process:
    def wait(self, timeout: float) -> int:
        return 0


def test_the_private_engine_is_stopped_by_the_last_run_using_it(monkeypatch, engine_state):
    stops = []
    monkeypatch.setattr(engine, "stop_private_engine", lambda: stops.append("stopped"))
    marker = engine_state / "started-by-a-run"
    # Build A starts the daemon; build B finds it running. A ends first: B still uses it.
    first, second = _private_user(_Process()), _private_user()
    marker.write_text("")
    first.close()
    assert stops == [] and marker.exists()
    # B ends last and stops it, though B did not start it.
    second.close()
    assert stops == ["stopped"] and not marker.exists()
    # A daemon nobody started (by hand, or kept with --keep-engine) is never stopped.
    _private_user().close()
    assert stops == ["stopped"]


def test_a_kept_private_engine_outlives_later_runs(monkeypatch, engine_state):
    stops = []
    monkeypatch.setattr(engine, "stop_private_engine", lambda: stops.append("stopped"))
    (engine_state / "started-by-a-run").write_text("")
    _private_user(_Process()).close(keep=True)
    _private_user().close()
    assert stops == [] and not (engine_state / "started-by-a-run").exists()


def test_library_steps_get_a_fixed_source_date_epoch():
    early, late = _plan(epoch=1_700_000_000), _plan(epoch=1_800_000_000)
    for p in (early, late):
        assert plan.step_environment(p.request, p.step("openssl"))["SOURCE_DATE_EPOCH"] == str(
            plan.DEPENDENCY_SOURCE_DATE_EPOCH
        )
    assert plan.step_environment(late.request, late.step("cpython"))["SOURCE_DATE_EPOCH"] == "1800000000"


@pytest.mark.parametrize(
    ("python", "options", "bolt", "tail_call"),
    [
        ("3.13", "noopt", "0", "0"),
        ("3.13", "pgo+lto", "1", "0"),
        ("3.13", "freethreaded+pgo", "0", "0"),
        ("3.13", "pgo", "0", "0"),
        ("3.13", "freethreaded+pgo+lto", "1", "0"),
        ("3.13", "lto", "0", "0"),
        ("3.14", "pgo+lto", "1", "1"),
        ("3.15", "debug", "0", "1"),
    ],
)
def test_cpython_step_gets_bolt_and_tail_calls_where_they_apply(python, options, bolt, tail_call):
    from pythonbuild.options import parse_options
    def env_for(target):
        request = plan.BuildRequest(target, python, parse_options(options), "20231114", 1)
        p = plan.make_plan(request, load_registry(), "img:1")
        return plan.step_environment(p.request, p.step("cpython"))

    env = env_for(replace(TARGET, bolt=True))
    assert (env["BUILD_OPTIONS"], env["WITH_BOLT"], env["WITH_TAIL_CALL_INTERP"]) == (
        options,
        bolt,
        tail_call,
    )
    assert env["PYTHON_VERSION"] == python
    # A target without BOLT never gets it.
    assert env_for(replace(TARGET, bolt=False))["WITH_BOLT"] == "0"


def test_options_and_march_give_separate_cache_entries():
    from pythonbuild.options import parse_options

    def keys(triple, options):
        request = plan.BuildRequest(get_target(triple), "3.13", parse_options(options), "x", 1)
        return {s.name: s.key for s in plan.make_plan(request, load_registry(), "img:1").steps}

    noopt, pgo = keys("x86_64-unknown-linux-gnu", "noopt"), keys("x86_64-unknown-linux-gnu", "pgo")
    v3 = keys("x86_64_v3-unknown-linux-gnu", "noopt")
    # Libraries do not depend on the options, only on the target's flags.
    assert noopt["openssl"] == pgo["openssl"] and noopt["cpython"] != pgo["cpython"]
    assert noopt["openssl"] != v3["openssl"]


def test_a_build_machine_that_cannot_run_target_code_gets_a_build_interpreter():
    from pythonbuild.linux.pgo_profile import BOLT_PROFILE, CLANG_PROFILE, RecordedProfile
    from pythonbuild.options import parse_options

    v4 = get_target("x86_64_v4-unknown-linux-gnu")

    def plan_for(options, runs_target_code, profile=None):
        request = plan.BuildRequest(
            v4, "3.13", parse_options(options), "x", 1, pgo_profile=profile,
            runs_target_code=runs_target_code,
        )  # fmt: skip
        return plan.make_plan(request, load_registry(), "img:1")

    native, cross = plan_for("noopt", True), plan_for("noopt", False)
    # Only the CPython step differs: the libraries are the target's either way.
    for a, b in zip(native.steps[:-1], cross.steps[:-1], strict=True):
        assert a.key == b.key, a.name
    assert native.step("cpython").key != cross.step("cpython").key
    # The build interpreter is built for the baseline level, with its own zlib.
    assert [s.name for s in cross.step("cpython").build_sources] == ["zlib"]
    assert native.step("cpython").build_sources == []
    assert [f.name for f in cross.step("cpython").extra_files][-1] == "build-python.sh"
    assert "build-python.sh" not in [f.name for f in native.step("cpython").extra_files]
    assert plan.step_environment(cross.request, cross.step("cpython"))["BUILD_PYTHON_MARCH"] == "x86-64"
    assert "BUILD_PYTHON_MARCH" not in plan.step_environment(native.request, native.step("cpython"))
    # BOLT cannot train there: only a recorded BOLT profile brings it back.
    clang_only = RecordedProfile(Path("p.tar.zst"), "c" * 64, {CLANG_PROFILE: b"x"})
    both = RecordedProfile(Path("q.tar.zst"), "d" * 64, {CLANG_PROFILE: b"x", BOLT_PROFILE: b"y"})

    def bolt(runs_target_code, profile):
        p = plan_for("pgo+lto", runs_target_code, profile)
        return plan.step_environment(p.request, p.step("cpython"))["WITH_BOLT"]

    assert (bolt(True, None), bolt(False, clang_only), bolt(False, both)) == ("1", "0", "1")


def test_stage_times_are_read_from_the_step_log(tmp_path):
    from pythonbuild.linux.steps import stage_times

    logfile = tmp_path / "cpython.log"
    logfile.write_text(
        "=== configure\nchecking...\n[stage] configure: 41 s\n"
        "[stage] PGO: training run (PROFILE_TASK) and profile merge: 300 s\nnoise [stage] x\n"
    )
    assert stage_times(logfile) == [
        ("configure", 41),
        ("PGO: training run (PROFILE_TASK) and profile merge", 300),
    ]


def test_cpython_step_key_follows_the_build_epoch_not_the_release_epoch():
    def cpython_key(release_epoch, build_epoch):
        request = plan.BuildRequest(
            TARGET, "3.13", BuildOptions(), "20231114", release_epoch, build_epoch
        )
        return plan.make_plan(request, load_registry(), "img:1").step("cpython").key

    # A commit that changes only the driver, tests or docs moves the release epoch alone.
    assert cpython_key(1_700_000_000, 1_600_000_000) == cpython_key(1_800_000_000, 1_600_000_000)
    assert cpython_key(1_700_000_000, 1_600_000_000) != cpython_key(1_700_000_000, 1_650_000_000)


def test_cpython_build_epoch_is_the_last_change_to_build_inputs():
    release = plan.release_tag()[1]
    build = plan.cpython_build_epoch()
    assert build is not None and build <= release


def test_package_patches_ship_with_the_step_and_are_in_its_key(monkeypatch, tmp_path):
    (tmp_path / "tcl").mkdir()
    patch = tmp_path / "tcl" / "change.patch"
    patch.write_text("--- a/x\n+++ b/x\n")
    monkeypatch.setattr(plan, "PATCHES_DIR", tmp_path)
    before = _plan()
    assert before.step("tcl").extra_files == [patch]
    assert before.step("zlib").extra_files == []
    patch.write_text("--- a/x\n+++ b/x\n@@ changed\n")
    after = _plan()
    assert before.step("zlib").key == after.step("zlib").key
    for name in ("tcl", "tk", "cpython"):
        assert before.step(name).key != after.step(name).key, name
