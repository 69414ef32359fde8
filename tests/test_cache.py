"""`python -m pythonbuild cache`: what is kept, what is current, LRU order, leases (fast)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pythonbuild.bootstrap import venv_dir
from pythonbuild.cache import leases
from pythonbuild.cache.cli import format_listing, parse_args
from pythonbuild.cache.current import CurrentReferences, current_references
from pythonbuild.cache.entries import cache_dir_entries, checkout_entries
from pythonbuild.cache.prune import PruneRequest, prune_order, remover, run_prune
from pythonbuild.errors import UsageError
from pythonbuild.linux.images.build import planned_build_image, rootfs_dir_name, runtime_rootfs_spec
from pythonbuild.linux.images.lock import read_lock
from pythonbuild.linux.plan import BuildRequest, build_epochs, make_plan
from pythonbuild.options import parse_options
from pythonbuild.registry import load_registry
from pythonbuild.sizes import format_size, parse_size
from pythonbuild.targets import get_target

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400
STALE_ROOTFS = "standalone-python_base-bullseye-arm64-3333333333333333"


@pytest.fixture(scope="module")
def refs() -> CurrentReferences:
    return current_references()


def _plan(triple: str = "x86_64_v3-unknown-linux-gnu", options: str = "pgo+lto"):
    target = get_target(triple)
    tag, epoch, build_epoch = build_epochs()
    request = BuildRequest(target, "3.13", parse_options(options), tag, epoch, build_epoch)
    return make_plan(request, load_registry(), planned_build_image(target).tag)


def _file(path: Path, size: int, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    when = time.time() - age_days * DAY
    os.utime(path, (when, when))
    return path


@pytest.fixture
def fake_cache(tmp_path, refs) -> Path:
    """A cache holding, for each kind, a current and a stale entry of known sizes and ages."""
    cache = tmp_path / "cache"
    plan = _plan()
    openssl = plan.step("openssl")
    _file(cache / "sources" / openssl.source.filename, 40_000, 30)
    _file(cache / "sources" / "openssl-1.1.1w.tar.gz", 30_000, 60)
    _file(cache / "artifacts" / openssl.artifact_name, 200_000, 2)
    _file(cache / "artifacts" / "openssl-3.5.7-00000000deadbeef.tar", 100_000, 20)
    _file(cache / "artifacts" / plan.step("cpython").artifact_name, 900_000, 1)
    _file(cache / "artifacts" / "cpython-3.13.15-1111111111111111.tar", 800_000, 10)
    _file(cache / "artifacts" / "zlib-1.3.1-2222222222222222.tar.123.partial", 5, 0)
    arm = runtime_rootfs_spec("bullseye", read_lock(), "arm64")
    _file(cache / "rootfs" / rootfs_dir_name(arm.tag) / "lib" / "ld.so", 50_000, 5)
    _file(
        cache / "rootfs" / STALE_ROOTFS / "x",
        60_000,
        40,
    )
    # A directory's own time is its last use (a rootfs is never written to once made).
    for name, age_days in [(rootfs_dir_name(arm.tag), 5), (STALE_ROOTFS, 40)]:
        when = time.time() - age_days * DAY
        os.utime(cache / "rootfs" / name, (when, when))
    return cache


def test_sizes_read_and_print_as_people_write_them():
    assert parse_size("40G") == 40 * 1024**3
    assert parse_size("500m") == 500 * 1024**2
    assert parse_size("1.5T") == int(1.5 * 1024**4)
    assert parse_size("0") == 0
    assert format_size(1_395_864_371) == "1.3 GB"
    assert format_size(12) == "12 B"
    with pytest.raises(UsageError, match="not a size"):
        parse_size("forty gigs")


def test_what_todays_checkout_plans_is_current(refs):
    for triple, options in [
        ("x86_64-unknown-linux-gnu", "noopt"),
        ("aarch64-unknown-linux-gnu", "debug"),
    ]:
        plan = _plan(triple, options)
        assert {s.artifact_name for s in plan.steps} <= set(refs.artifacts)
        assert refs.artifacts[plan.step("cpython").artifact_name] == triple
        assert refs.image_is_current(plan.image_tag)
    name = planned_build_image(get_target("x86_64-unknown-linux-gnu")).tag.rpartition(":")[0]
    assert not refs.image_is_current(f"{name}:0123456789abcdef")
    # test-dist's plain systems of any suite, as today's lock pins them
    assert refs.image_is_current(runtime_rootfs_spec("trixie", read_lock()).tag)
    assert not refs.image_is_current("standalone-python/base-trixie:0123456789abcdef")
    assert not refs.image_is_current("someone-else/base-trixie:x")


def test_listing_sorts_kinds_and_marks_current_and_stale(fake_cache, refs):
    entries = list(cache_dir_entries(fake_cache, refs))
    states = {(e.kind, e.name): e.state for e in entries}
    plan = _plan()
    assert states[("library", plan.step("openssl").artifact_name)] == "current"
    assert states[("library", "openssl-3.5.7-00000000deadbeef.tar")] == "stale"
    assert states[("cpython", plan.step("cpython").artifact_name)] == "current"
    assert states[("cpython", "cpython-3.13.15-1111111111111111.tar")] == "stale"
    assert states[("source", "openssl-1.1.1w.tar.gz")] == "stale"
    assert [s for (k, _), s in states.items() if k == "rootfs"] == ["current", "stale"]
    assert not any(name.endswith(".partial") for _, name in states)  # a running step's file
    library = next(e for e in entries if e.name == plan.step("openssl").artifact_name)
    assert library.target == "x86_64_v3-unknown-linux-gnu" and library.size >= 200_000
    summary = format_listing(entries, summary=True)
    assert summary[0].split() == ["kind", "entries", "current", "stale", "size", "stale", "size"]
    assert summary[1].split()[:4] == ["source", "2", "1", "1"]
    assert summary[-1].startswith("total")


def test_prune_removes_stale_entries_least_recently_used_first(fake_cache, refs):
    entries = list(cache_dir_entries(fake_cache, refs))
    order = [e.name for e in prune_order(entries, PruneRequest())]
    assert order == [
        "openssl-1.1.1w.tar.gz",  # 60 days
        STALE_ROOTFS,  # 40
        "openssl-3.5.7-00000000deadbeef.tar",  # 20
        "cpython-3.13.15-1111111111111111.tar",  # 10
    ]
    outcomes = list(run_prune(entries, PruneRequest(), remover(fake_cache, None, False)))
    assert all(o.removed for o in outcomes) and len(outcomes) == 4
    left = {e.name for e in cache_dir_entries(fake_cache, refs)}
    assert left == {e.name for e in entries if e.current}


def test_max_size_evicts_stale_first_then_least_recently_used_current(fake_cache, refs):
    entries = list(cache_dir_entries(fake_cache, refs))
    total = sum(e.size for e in entries)
    current = sorted((e for e in entries if e.current), key=lambda e: e.last_used)
    # Room for all but the oldest current entry: every stale one goes, then that one.
    limit = total - sum(e.size for e in entries if not e.current) - current[0].size
    outcomes = list(
        run_prune(entries, PruneRequest(max_size=limit), remover(fake_cache, None, False))
    )
    assert [o.entry.current for o in outcomes] == [False] * 4 + [True]
    assert outcomes[-1].entry.name == current[0].name
    assert sum(e.size for e in cache_dir_entries(fake_cache, refs)) <= limit
    # Already under the limit: nothing goes.
    assert (
        list(
            run_prune(
                list(cache_dir_entries(fake_cache, refs)),
                PruneRequest(max_size=limit),
                remover(fake_cache, None, False),
            )
        )
        == []
    )


def test_dry_run_removes_nothing_and_names_the_same_entries(fake_cache, refs):
    entries = list(cache_dir_entries(fake_cache, refs))
    dry = list(
        run_prune(
            entries, PruneRequest(everything=True, dry_run=True), remover(fake_cache, None, True)
        )
    )
    assert len(dry) == len(entries) and all(o.removed for o in dry)
    assert {e.name for e in cache_dir_entries(fake_cache, refs)} == {e.name for e in entries}


def test_an_entry_a_build_holds_survives_even_prune_all(fake_cache, refs):
    entries = list(cache_dir_entries(fake_cache, refs))
    held = next(e for e in entries if e.kind == "cpython" and not e.current)
    with leases.held(fake_cache, [held.lease_id]):
        outcomes = list(
            run_prune(entries, PruneRequest(everything=True), remover(fake_cache, None, False))
        )
    kept = [o for o in outcomes if not o.removed]
    assert [o.entry.name for o in kept] == [held.name]
    assert kept[0].why_not == "in use by a running build"
    assert [e.name for e in cache_dir_entries(fake_cache, refs)] == [held.name]


def test_a_lease_held_by_another_process_blocks_removal_until_it_ends(fake_cache, refs):
    """The way a build beside a prune holds its entries: another process's shared flock."""
    entries = list(cache_dir_entries(fake_cache, refs))
    target = next(e for e in entries if e.kind == "library" and e.current)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from pythonbuild.cache import leases\n"
         "with leases.held(Path(sys.argv[1]), [sys.argv[2]]):\n"
         "    print('held', flush=True); time.sleep(60)",
         str(fake_cache), target.lease_id],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert leases.is_held(fake_cache, target.lease_id) and leases.any_held(fake_cache)
        outcomes = list(
            run_prune([target], PruneRequest(everything=True), remover(fake_cache, None, False))
        )
        assert not outcomes[0].removed and target.path.exists()
    finally:
        holder.kill()
        holder.wait()
    assert not leases.any_held(fake_cache)  # the kernel dropped the dead holder's lock
    outcomes = list(
        run_prune([target], PruneRequest(everything=True), remover(fake_cache, None, False))
    )
    assert outcomes[0].removed and not target.path.exists()


def test_a_lease_marks_last_use(fake_cache, refs):
    entries = {e.name: e for e in cache_dir_entries(fake_cache, refs)}
    old = entries["openssl-1.1.1w.tar.gz"]
    with leases.held(fake_cache, [old.lease_id]):
        pass
    again = {e.name: e for e in cache_dir_entries(fake_cache, refs)}["openssl-1.1.1w.tar.gz"]
    assert again.last_used > old.last_used + 59 * DAY


def test_a_build_leases_everything_it_reads_or_makes(tmp_path):
    from pythonbuild.linux.driver import lease_ids
    from pythonbuild.linux.images import images_for

    plan = _plan()
    images = images_for(plan.request.target, tmp_path)
    ids = set(lease_ids(plan, images, ROOT / "build" / "assemble" / "x"))
    assert {f"artifacts/{s.artifact_name}" for s in plan.steps} <= ids
    assert {f"sources/{s.source.filename}" for s in plan.steps} <= ids
    assert leases.image_id(plan.image_tag) in ids
    assert f"work:{ROOT / 'build' / 'assemble' / 'x'}" in ids


def test_work_directories_are_scratch_and_profiles_are_kept(tmp_path):
    build, dist = tmp_path / "build", tmp_path / "dist"
    _file(build / "assemble" / "x86_64-unknown-linux-gnu-3.13-noopt" / "tree" / "f", 1000, 3)
    _file(build / "bench-work" / "venv-a" / "f", 1000, 3)
    _file(build / "logs" / "run" / "cpython.log", 1000, 3)  # logs are not listed
    _file(dist / "cpython-3.13.15+20261206-x86_64-unknown-linux-gnu-pgo-profile.tar.zst", 10, 1)
    entries = list(checkout_entries(tmp_path / "cache", build, dist))
    assert [(e.kind, e.prunable) for e in entries] == [
        ("work", True),
        ("bench", True),
        ("pgo-profile", False),
    ]
    assert prune_order(entries, PruneRequest(everything=True))[-1].kind == "bench"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--all"], "apply to `cache prune`"),
        (["prune", "--all", "--max-size", "4G"], "exclude each other"),
        (["prune", "--max-size", "lots"], "not a size"),
        (["prune", "--kind", "cheese"], "invalid choice"),
    ],
)
def test_bad_arguments_are_one_line(argv, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_args(argv)
    assert "\n" not in str(info.value)


def _cache_command(*args: str) -> subprocess.CompletedProcess:
    # In this interpreter (the dev venv has the build venv's packages): a fresh clone would
    # otherwise print the build venv's creation first.
    env = {**os.environ, "STANDALONE_PYTHON_BOOTSTRAPPED": str(venv_dir("build"))}
    return subprocess.run(
        [sys.executable, "-m", "pythonbuild", "cache", *args],
        cwd=ROOT, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


def test_the_command_lists_a_cache_without_an_engine(fake_cache):
    result = _cache_command("--no-engine", "--cache-dir", str(fake_cache), "--summary")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("kind") and any(line.startswith("cpython ") for line in lines)
    kinds = ["--kind", "source", "--kind", "library", "--kind", "cpython", "--kind", "rootfs"]
    prune = _cache_command(
        "prune", "--no-engine", "--dry-run", "--cache-dir", str(fake_cache), *kinds
    )
    assert prune.returncode == 0, prune.stderr
    assert "would remove library openssl-3.5.7-00000000deadbeef.tar" in prune.stdout
    assert prune.stdout.splitlines()[-1].startswith("would remove 4 entries")


def test_a_build_prunes_to_standalone_python_cache_max(fake_cache, refs, tmp_path):
    """What a build does last when STANDALONE_PYTHON_CACHE_MAX is set (without the engine)."""
    from pythonbuild.cache.cli import prune_quietly
    from pythonbuild.cache.entries import Places

    places = Places(
        fake_cache, tmp_path / "build", tmp_path / "dist", tmp_path / "var", tmp_path / "var" / "x"
    )
    entries = list(cache_dir_entries(fake_cache, refs))
    current = sum(e.size for e in entries if e.current)
    freed, left = prune_quietly(places, current, False, False, use_engine=False)
    assert freed == sum(e.size for e in entries if not e.current) and left == current
    assert all(e.current for e in cache_dir_entries(fake_cache, refs))


def test_a_bad_standalone_python_cache_max_fails_before_building(tmp_path):
    env = {
        **os.environ,
        "STANDALONE_PYTHON_CACHE_MAX": "plenty",
        "STANDALONE_PYTHON_BOOTSTRAPPED": str(venv_dir("build")),
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "build-linux.py"), "--cache-dir", str(tmp_path / "c"), "--dist", str(tmp_path / "d")],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: STANDALONE_PYTHON_CACHE_MAX: 'plenty' is not a size; write it like 40G, 500M or 0"
    )
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


def test_test_dist_leases_the_rootfs_by_the_id_the_listing_gives_it(tmp_path, monkeypatch, refs):
    """An emulated test-dist holds the lease a prune of that rootfs directory asks for."""
    from types import SimpleNamespace

    from pythonbuild.linux.images.build import runtime_rootfs_path
    from pythonbuild.testdist import cli as testdist_cli

    monkeypatch.setenv("STANDALONE_PYTHON_CACHE", str(tmp_path))
    target = get_target("aarch64-unknown-linux-gnu")
    spec = runtime_rootfs_spec(target.sysroot, arch=target.debian_arch)
    _file(runtime_rootfs_path(spec, tmp_path) / "lib" / "ld.so", 10, 1)
    [entry] = [e for e in cache_dir_entries(tmp_path, refs) if e.kind == "rootfs"]
    config = SimpleNamespace(containers=())
    dist = SimpleNamespace(target=target.triple)
    assert entry.lease_id in testdist_cli._lease_ids(config, dist, tmp_path / "out")
