"""Recorded training profiles: the bundle a pgo build writes, and --pgo-profile reading it back."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import zstandard
from tarfiles import tar_bytes

from pythonbuild.errors import BuildError, UsageError
from pythonbuild.linux import plan
from pythonbuild.linux.cli import main, parse_args
from pythonbuild.linux.pgo_profile import bundle_name, export_profiles, read_bundle
from pythonbuild.options import parse_options
from pythonbuild.registry import load_registry
from pythonbuild.targets import get_target


def _artifact(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "cpython-3.13.15-0123.tar"
    path.write_bytes(tar_bytes({"install/bin/python3.13": b"\x7fELF", **members}))
    return path


def test_bundle_name_follows_the_full_archive() -> None:
    full = "cpython-3.13.15+20261122-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst"
    assert (
        bundle_name(full)
        == "cpython-3.13.15+20261122-x86_64-unknown-linux-gnu-pgo+lto-profile.tar.zst"
    )
    with pytest.raises(ValueError):
        bundle_name("cpython-3.13.15+20261122-x86_64-unknown-linux-gnu-install_only.tar.gz")


def test_bundle_round_trip_is_deterministic(tmp_path: Path) -> None:
    artifact = _artifact(
        tmp_path, {"profile/code.profclangd": b"clang counts", "profile/python.fdata": b"bolt"}
    )
    first = export_profiles(artifact, None, tmp_path / "a-profile.tar.zst", 1_700_000_000)
    second = export_profiles(artifact, None, tmp_path / "b-profile.tar.zst", 1_700_000_000)
    assert first is not None and second is not None
    assert first.read_bytes() == second.read_bytes()
    recorded = read_bundle(first)
    assert recorded.members == {"code.profclangd": b"clang counts", "python.fdata": b"bolt"}
    assert recorded.has_bolt_profile
    with tarfile.open(fileobj=io.BytesIO(recorded.as_tar())) as tar:
        assert sorted(tar.getnames()) == ["code.profclangd", "python.fdata"]


def test_a_replayed_bundle_is_copied_as_it_is(tmp_path: Path) -> None:
    """The bundle beside a replaying build's archive must have the sha256 its inputs record,
    which packing the profiles again with this build's mtime would not give."""
    artifact = _artifact(tmp_path, {"profile/code.profclangd": b"clang counts"})
    given = export_profiles(artifact, None, tmp_path / "given-profile.tar.zst", 1_600_000_000)
    assert given is not None
    profile = read_bundle(given)
    repacked = export_profiles(artifact, None, tmp_path / "repacked.tar.zst", 1_700_000_000)
    assert repacked is not None and repacked.read_bytes() != given.read_bytes()
    dist = tmp_path / "dist"
    dist.mkdir()
    copied = export_profiles(artifact, profile, dist / "x-profile.tar.zst", 1_700_000_000)
    assert copied is not None and copied.read_bytes() == given.read_bytes()
    assert [p.name for p in dist.iterdir()] == ["x-profile.tar.zst"]
    given.write_bytes(b"another profile")
    with pytest.raises(BuildError, match="changed while the build ran"):
        export_profiles(artifact, profile, dist / "y-profile.tar.zst", 1_700_000_000)


def test_a_replay_that_trained_bolt_writes_a_new_bundle(tmp_path: Path) -> None:
    """A clang-only bundle replayed on a BOLT target: BOLT trains, and its profile must not be
    lost by copying the given bundle."""
    clang_only = _artifact(tmp_path, {"profile/code.profclangd": b"clang counts"})
    given = export_profiles(clang_only, None, tmp_path / "given-profile.tar.zst", 1_600_000_000)
    assert given is not None
    both = tmp_path / "both" / "cpython.tar"
    both.parent.mkdir()
    both.write_bytes(
        tar_bytes({"profile/code.profclangd": b"clang counts", "profile/python.fdata": b"bolt"})
    )
    written = export_profiles(both, read_bundle(given), tmp_path / "x-profile.tar.zst", 1)
    assert written is not None
    assert read_bundle(written).members == {
        "code.profclangd": b"clang counts",
        "python.fdata": b"bolt",
    }


def test_builds_that_did_not_train_write_no_bundle(tmp_path: Path) -> None:
    dest = tmp_path / "x-profile.tar.zst"
    assert export_profiles(_artifact(tmp_path, {}), None, dest, 0) is None
    assert not dest.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not zstd at all", "not a readable .tar.zst"),
        (
            zstandard.ZstdCompressor().compress(tar_bytes({"profile/python.fdata": b"x"})),
            "no code.profclangd",
        ),
        (
            zstandard.ZstdCompressor().compress(tar_bytes({"profile/evil.sh": b"x"})),
            "unexpected member 'profile/evil.sh'",
        ),
    ],
)
def test_bad_bundles_are_one_line_usage_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad-profile.tar.zst"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message) as info:
        read_bundle(path)
    assert "\n" not in str(info.value)


def test_missing_bundle_file(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope-profile.tar.zst"
    assert main(["--options", "pgo+lto", "--pgo-profile", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--pgo-profile" in err[0] and "nope-profile.tar.zst" in err[0]


def test_pgo_profile_needs_a_pgo_build(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="only applies to pgo builds"):
        parse_args(["--options", "lto", "--pgo-profile", str(tmp_path / "p.tar.zst")])


def test_the_profile_is_part_of_the_cpython_key_only(tmp_path: Path) -> None:
    artifact = _artifact(tmp_path, {"profile/code.profclangd": b"counts"})
    bundle = export_profiles(artifact, None, tmp_path / "p-profile.tar.zst", 0)
    assert bundle is not None
    config = parse_args(["--options", "pgo+lto", "--pgo-profile", str(bundle)])
    assert config.pgo_profile is not None

    def keys(profile) -> dict[str, str]:
        request = plan.BuildRequest(
            get_target("x86_64-unknown-linux-gnu"), "3.13", parse_options("pgo+lto"), "x", 1,
            pgo_profile=profile,
        )  # fmt: skip
        return {s.name: s.key for s in plan.make_plan(request, load_registry(), "img:1").steps}

    without, with_profile = keys(None), keys(config.pgo_profile)
    assert without["cpython"] != with_profile["cpython"]
    assert {k: v for k, v in without.items() if k != "cpython"} == {
        k: v for k, v in with_profile.items() if k != "cpython"
    }
