"""The glibc floor's tree: built first for every gnu target, read by every step, pinned and
described like any other input; musl targets never see it."""

from __future__ import annotations

import dataclasses

import pytest

from pythonbuild.distribution import metadata
from pythonbuild.errors import BuildError
from pythonbuild.linux import plan
from pythonbuild.linux.images import build as images
from pythonbuild.options import BuildOptions
from pythonbuild.registry import load_registry
from pythonbuild.targets import get_target, load_targets

GNU_TARGETS = sorted(t for t, target in load_targets().items() if target.libc == "glibc")


def _plan(triple: str, options: str = "noopt"):
    request = plan.BuildRequest(
        get_target(triple), "3.13", BuildOptions(options), "20231114", 1_700_000_000
    )
    return plan.make_plan(request, load_registry(), "img:1")


# The oldest glibc each CPU's stubs reach (zig's symbol lists): RHEL 7's 2.17 where glibc had the
# CPU then; ppc64le's lists start at 2.19, riscv64's glibc at 2.27.
FLOORS = {"powerpc64le": "2.19", "riscv64": "2.27"}


@pytest.mark.parametrize("triple", GNU_TARGETS)
def test_every_gnu_target_links_against_its_floors_stubs(triple: str) -> None:
    target = get_target(triple)
    floor = FLOORS.get(target.gnu_triple.split("-")[0], "2.17")
    assert target.glibc_floor == floor and target.glibc_stubs == "ziglang"
    steps = _plan(triple).steps
    assert steps[0].name == "ziglang" and steps[0].depends == []
    for step in steps[1:]:
        assert step.depends[0] == "ziglang", step.name
    environment = plan.step_environment(_plan(triple).request, steps[0])
    assert environment["GLIBC_FLOOR"] == floor
    # Only the tree's own step is told the floor: the other steps' keys are as before.
    assert all(
        "GLIBC_FLOOR" not in plan.step_environment(_plan(triple).request, s) for s in steps[1:]
    )


def test_the_floor_changes_what_the_tree_holds() -> None:
    """A lower floor is another tree, so every step that links against it builds again."""
    base = _plan("x86_64-unknown-linux-gnu")
    lower = dataclasses.replace(base.request, target=dataclasses.replace(
        base.request.target, glibc_floor="2.12"))  # fmt: skip
    other = plan.make_plan(lower, load_registry(), "img:1")
    assert all(a.key != b.key for a, b in zip(base.steps, other.steps, strict=True))


def test_musl_targets_never_build_the_glibc_tree() -> None:
    for triple, target in load_targets().items():
        if target.libc != "musl":
            continue
        names = {s.name for s in _plan(triple).steps}
        assert "ziglang" not in names, triple
        assert target.build_sysroot == "/tools/musl"


def test_the_image_compiles_against_the_tree_and_qemu_runs_the_real_glibc() -> None:
    arm = images.planned_build_image(get_target("aarch64-unknown-linux-gnu")).dockerfile
    assert "--target=aarch64-linux-gnu --sysroot=/tools/glibc " in arm
    assert "ENV TARGET_SYSROOT=/tools/glibc" in arm
    assert "QEMU_LD_PREFIX=/sysroot" in arm


def test_the_wheel_is_pinned_and_named_in_the_sboms_as_a_pypi_file() -> None:
    ziglang = load_registry()["ziglang"]
    assert ziglang.is_wheel and not ziglang.upstream_serves_pinned_bytes
    assert ziglang.filename == ziglang.pypi_file and ziglang.filename.endswith(".whl")
    assert "manylinux" in ziglang.filename and "x86_64" in ziglang.filename  # the build machine
    assert len(ziglang.sha256) == 64 and ziglang.size > 50_000_000


def test_an_archive_above_the_floor_is_not_written() -> None:
    target = get_target("x86_64-unknown-linux-gnu")
    assert metadata._crt_features(target, "2.17", None) == [
        "glibc-dynamic",
        "glibc-max-symbol-version:2.17",
    ]
    with pytest.raises(BuildError, match=r"GLIBC_2\.18, newer than .* floor 2\.17"):
        metadata._crt_features(target, "2.18", None)
