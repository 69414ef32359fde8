"""``python -m pythonbuild release``: archive names, slots, the files it writes, its errors, and
that the real uv (pinned in requirements-dev.txt) reads the downloads list and installs from it.

The archives are tiny tar.gz files with the right names; an install_only one holds just enough
of an installation (an interpreter file, lib/python3.X/ and a _sysconfigdata_ module) for uv to
install it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tarfiles import tar_bytes

from pythonbuild.distribution.archive import archive_name, parse_archive_name, write_sha256sums
from pythonbuild.options import all_option_names
from pythonbuild.release.collect import main
from pythonbuild.targets import load_targets

TAG = "20261204"
TRIPLE = "x86_64-unknown-linux-gnu"
V3 = "x86_64_v3-unknown-linux-gnu"
FLAVORS = ("full", "install_only", "install_only_stripped")
UV = Path(sys.executable).parent / "uv"


def fake_install(version: str, marker: str) -> bytes:
    """A gzipped tar that uv accepts as an installation of ``version``."""
    minor = ".".join(version.split(".")[:2])
    sysconfig = "# system configuration generated and used by the sysconfig module\n"
    return gzip.compress(
        tar_bytes(
            {
                f"python/bin/python{minor}": b"#!/bin/sh\necho fake\n",
                f"python/lib/python{minor}/_sysconfigdata__linux_x86_64-linux-gnu.py": (
                    sysconfig + "build_time_vars = {}\n"
                ).encode(),
                "python/MARKER": marker.encode(),
            }
        ),
        mtime=0,
    )


def make_build(
    dist: Path,
    options: str,
    *,
    triple: str = TRIPLE,
    version: str = "3.13.15",
    tag: str = TAG,
    flavors: tuple[str, ...] = ("full", "install_only"),
    sbom: bool = False,
) -> dict[str, str]:
    """Write one build's archives into ``dist`` and record them in its SHA256SUMS."""
    dist.mkdir(parents=True, exist_ok=True)
    names = {}
    for flavor in flavors:
        name = archive_name(
            python_version=version, release_tag=tag, triple=triple, options=options, flavor=flavor
        )
        (dist / name).write_bytes(fake_install(version, f"{options} {flavor}"))
        names[flavor] = name
    if sbom:
        stem = names["full"].removesuffix(".tar.zst")
        for suffix in (".spdx.json", ".cdx.json"):
            (dist / f"{stem}{suffix}").write_text("{}\n")
            names[suffix] = f"{stem}{suffix}"
    write_sha256sums(dist, names.values())
    return names


def release(*args: str | Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def downloads(out: Path) -> dict:
    return json.loads((out / "download-metadata.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize("flavor", FLAVORS)
def test_parse_archive_name_inverts_archive_name(flavor: str) -> None:
    for triple in load_targets():
        for options in all_option_names():
            for version in ("3.13.15", "3.15.0a2"):
                fields = {
                    "python_version": version,
                    "release_tag": TAG,
                    "triple": triple,
                    "options": options,
                    "flavor": flavor,
                }
                name = archive_name(**fields)
                assert parse_archive_name(name) == fields, name


@pytest.mark.parametrize(
    "name",
    [
        f"cpython-3.13.15+{TAG}-{TRIPLE}-pgo+lto-install_only.tar.gz",  # never spelled out
        f"cpython-3.13.15+{TAG}-mips64-unknown-linux-gnuabi64-install_only.tar.gz",
        f"cpython-3.13.15-{TRIPLE}-noopt-full.tar.zst",
        f"cpython-3.13.15+{TAG}-{TRIPLE}-fast-full.tar.zst",
        f"cpython-3.13.15+{TAG}-{TRIPLE}-full.tar.zst",
        f"cpython-3.13.15+{TAG}-{TRIPLE}-noopt-full.tar.gz",
        f"pypy-3.13.15+{TAG}-{TRIPLE}-noopt-full.tar.zst",
    ],
)
def test_parse_archive_name_rejects(name: str) -> None:
    with pytest.raises(ValueError):
        parse_archive_name(name)


# ---------------------------------------------------------------------------------------------
# A release


def test_release_of_several_builds(tmp_path: Path, capsys) -> None:
    noopt = make_build(tmp_path / "a", "noopt", sbom=True)
    best = make_build(tmp_path / "b", "pgo+lto")
    free = make_build(tmp_path / "b", "freethreaded+pgo+lto")
    debug = make_build(tmp_path / "c", "debug", triple=V3)
    (tmp_path / "b" / "cpython-3.13.15+x-profile.tar.zst").write_bytes(b"profile")
    out = tmp_path / "out"
    code, err = release(*(tmp_path / d for d in "abc"), "--out", out, capsys=capsys)
    assert code == 0, err

    published = {*noopt.values(), *best.values(), *free.values(), *debug.values()}
    generated = {"download-metadata.json", "latest-release.json", "RELEASE_NOTES.md"}
    assert {p.name for p in out.iterdir()} == published | generated | {"SHA256SUMS"}
    sums = dict(
        reversed(line.split("  ")) for line in (out / "SHA256SUMS").read_text().splitlines()
    )
    assert sums == {name: sha256(out / name) for name in published | generated}
    assert list(sums) == sorted(sums)
    assert (out / best["install_only"]).read_bytes() == (
        tmp_path / "b" / best["install_only"]
    ).read_bytes()

    entries = downloads(out)
    assert set(entries) == {
        "cpython-3.13.15-linux-x86_64-gnu",
        "cpython-3.13.15+freethreaded-linux-x86_64-gnu",
        "cpython-3.13.15+debug-linux-x86_64_v3-gnu",
    }
    assert entries["cpython-3.13.15+debug-linux-x86_64_v3-gnu"] == {
        "name": "cpython",
        "arch": {"family": "x86_64", "variant": "v3"},
        "os": "linux",
        "libc": "gnu",
        "major": 3,
        "minor": 13,
        "patch": 15,
        "prerelease": "",
        "url": (out.resolve() / debug["install_only"]).as_uri().replace("+", "%2B"),
        "sha256": sha256(out / debug["install_only"]),
        "variant": "debug",
        "build": TAG,
    }
    # pgo+lto beats noopt for the default slot; the freethreaded build has its own.
    assert entries["cpython-3.13.15-linux-x86_64-gnu"]["url"].endswith(
        best["install_only"].replace("+", "%2B")
    )
    assert entries["cpython-3.13.15+freethreaded-linux-x86_64-gnu"]["variant"] == "freethreaded"
    notes = (out / "RELEASE_NOTES.md").read_text()
    assert f"preferred over {noopt['install_only']}" in notes
    assert f"| {TRIPLE} | 3.13.15 | noopt | SBOM (SPDX) |" in notes
    assert json.loads((out / "latest-release.json").read_text()) == {
        "version": 1,
        "tag": TAG,
        "release_url": f"{out.resolve().as_uri()}/RELEASE_NOTES.md",
        "asset_url_prefix": out.resolve().as_uri(),
    }


def test_a_single_noopt_build_fills_the_default_slot(tmp_path: Path, capsys) -> None:
    names = make_build(tmp_path / "a", "noopt")
    out = tmp_path / "out"
    assert release(tmp_path / "a", "--out", out, capsys=capsys)[0] == 0
    entry = downloads(out)["cpython-3.13.15-linux-x86_64-gnu"]
    assert entry["url"].endswith(names["install_only"].replace("+", "%2B"))
    assert entry["variant"] is None
    notes = (out / "RELEASE_NOTES.md").read_text()
    assert "no better-optimized build of this slot is in the release" in notes


@pytest.mark.parametrize(
    ("present", "winner"),
    [(("noopt", "lto"), "lto"), (("lto", "pgo", "noopt"), "pgo"), (("pgo", "pgo+lto"), "pgo+lto")],
)
def test_best_optimized_build_wins(tmp_path: Path, capsys, present, winner) -> None:
    names = {o: make_build(tmp_path / o, f"freethreaded+{o}") for o in present}
    out = tmp_path / "out"
    assert release(*(tmp_path / o for o in present), "--out", out, capsys=capsys)[0] == 0
    entry = downloads(out)["cpython-3.13.15+freethreaded-linux-x86_64-gnu"]
    assert entry["sha256"] == sha256(out / names[winner]["install_only"])


def test_static_builds_are_published_but_not_offered_to_uv(tmp_path: Path, capsys) -> None:
    musl = "x86_64-unknown-linux-musl"
    dynamic = make_build(tmp_path / "a", "lto", triple=musl)
    static = make_build(tmp_path / "b", "lto+static", triple=musl)
    out = tmp_path / "out"
    assert release(tmp_path / "a", tmp_path / "b", "--out", out, capsys=capsys)[0] == 0
    assert (out / static["install_only"]).is_file()
    entries = downloads(out)
    assert list(entries) == ["cpython-3.13.15-linux-x86_64-musl"]
    entry = entries["cpython-3.13.15-linux-x86_64-musl"]
    assert entry["libc"] == "musl" and entry["sha256"] == sha256(out / dynamic["install_only"])


def test_stripped_archive_preferred(tmp_path: Path, capsys) -> None:
    names = make_build(tmp_path / "a", "pgo+lto", flavors=("install_only", "install_only_stripped"))
    out = tmp_path / "out"
    assert release(tmp_path / "a", "--out", out, capsys=capsys)[0] == 0
    url = downloads(out)["cpython-3.13.15-linux-x86_64-gnu"]["url"]
    assert url.endswith(names["install_only_stripped"].replace("+", "%2B"))


def test_identical_duplicates_and_base_url(tmp_path: Path, capsys) -> None:
    make_build(tmp_path / "a", "pgo+lto")
    (tmp_path / "b").mkdir()
    for path in (tmp_path / "a").iterdir():
        (tmp_path / "b" / path.name).write_bytes(path.read_bytes())
    outs = [tmp_path / "out1", tmp_path / "out2"]
    for out in outs:
        args = (tmp_path / "a", tmp_path / "b", "--out", out)
        assert release(*args, "--base-url", "https://example.org/r/", capsys=capsys)[0] == 0
    url = downloads(outs[0])["cpython-3.13.15-linux-x86_64-gnu"]["url"]
    assert url == f"https://example.org/r/cpython-3.13.15%2B{TAG}-{TRIPLE}-install_only.tar.gz"
    latest = json.loads((outs[0] / "latest-release.json").read_text())
    assert latest["asset_url_prefix"] == "https://example.org/r"
    for name in ("download-metadata.json", "latest-release.json", "RELEASE_NOTES.md", "SHA256SUMS"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


# ---------------------------------------------------------------------------------------------
# Bad input: one line, exit 1, nothing in --out


def _damage(tmp: Path, case: str) -> tuple[list[str], str]:
    """Set up one kind of bad input; return the extra arguments and a word the error names."""
    a, b = tmp / "a", tmp / "b"
    names = make_build(a, "pgo+lto")
    if case == "no dist dir":
        return [str(tmp / "missing")], "is not a directory"
    if case == "no SHA256SUMS":
        (a / "SHA256SUMS").unlink()
        return [], "has no SHA256SUMS"
    if case == "listed file missing":
        (a / names["full"]).unlink()
        return [], "which is missing"
    if case == "checksum mismatch":
        (a / names["install_only"]).write_bytes(b"other bytes")
        return [], "does not match"
    if case == "not listed":
        extra = archive_name(
            python_version="3.13.15", release_tag=TAG, triple=TRIPLE, options="lto"
        )
        (a / extra).write_bytes(b"unlisted")
        return [], "is not listed in"
    if case == "same slot, other bytes":
        make_build(b, "pgo+lto")
        (b / names["install_only"]).write_bytes(fake_install("3.13.15", "another build"))
        write_sha256sums(b, [names["install_only"]])
        return [str(b)], "two different builds claim the same file and uv download slot"
    if case == "name does not parse":
        bad = f"cpython-3.13.15+{TAG}-mips64-unknown-linux-gnuabi64-install_only.tar.gz"
        (a / bad).write_bytes(b"x")
        write_sha256sums(a, [bad])
        return [], "names no known target"
    if case == "mixed tags":
        make_build(b, "noopt", tag="20261205")
        return [str(b)], "different release tags"
    if case == "--tag differs":
        return ["--tag", "20270101"], "not --tag 20270101"
    raise AssertionError(case)


ERROR_CASES = [
    "no dist dir",
    "no SHA256SUMS",
    "listed file missing",
    "checksum mismatch",
    "not listed",
    "same slot, other bytes",
    "name does not parse",
    "mixed tags",
    "--tag differs",
]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_bad_input_writes_nothing(tmp_path: Path, capsys, case: str) -> None:
    extra, expected = _damage(tmp_path / "in", case)
    out = tmp_path / "rel" / "out"
    code, err = release(tmp_path / "in" / "a", *extra, "--out", out, capsys=capsys)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert expected in err
    assert not out.exists()
    assert list((tmp_path / "rel").iterdir()) == []  # no partial directory left beside it


def test_refuses_non_empty_out(tmp_path: Path, capsys) -> None:
    make_build(tmp_path / "a", "pgo+lto")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("mine")
    code, err = release(tmp_path / "a", "--out", out, capsys=capsys)
    assert code == 1 and err == f"error: --out {out} is not empty; pass a new or empty directory\n"
    assert [p.name for p in out.iterdir()] == ["keep"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert release(tmp_path / "a", "--out", empty, capsys=capsys)[0] == 0


# ---------------------------------------------------------------------------------------------
# The real uv


def _uv(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert UV.is_file(), f"{UV} is missing; uv is pinned in requirements-dev.txt, rerun ./run-tests"
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(tmp / "uv-cache"),
        "UV_PYTHON_INSTALL_DIR": str(tmp / "uv-pythons"),
        "UV_PYTHON_BIN_DIR": str(tmp / "uv-bin"),
        "UV_NO_CONFIG": "1",
    }
    env.pop("UV_PYTHON_DOWNLOADS_JSON_URL", None)
    return subprocess.run(
        [str(UV), *args], capture_output=True, text=True, env=env, check=False, timeout=120
    )


def test_uv_lists_and_installs_the_release(tmp_path: Path, capsys) -> None:
    make_build(tmp_path / "a", "pgo+lto", triple=V3)
    make_build(tmp_path / "a", "freethreaded+noopt")
    make_build(tmp_path / "a", "debug")
    out = tmp_path / "out"
    assert release(tmp_path / "a", "--out", out, capsys=capsys)[0] == 0
    metadata = out / "download-metadata.json"
    entries = downloads(out)

    listed = _uv(tmp_path, "python", "list", "--all-versions", "--all-platforms", "--all-arches",
                 "--only-downloads", "--show-urls", "--python-downloads-json-url", str(metadata))  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    shown = dict(line.split() for line in listed.stdout.splitlines())
    # uv 0.13.9 leaves debug builds out of `python list`; they are installed below.
    assert shown == {k: e["url"] for k, e in entries.items() if e["variant"] != "debug"}
    assert set(shown) == {
        "cpython-3.13.15-linux-x86_64_v3-gnu",
        "cpython-3.13.15+freethreaded-linux-x86_64-gnu",
    }

    # uv fetches the file:// URL, checks the sha256 and unpacks the archive.
    key = "cpython-3.13.15+debug-linux-x86_64-gnu"
    installed = _uv(tmp_path, "python", "install", key, "--no-bin",
                    "--python-downloads-json-url", metadata.as_uri())  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "uv-pythons" / key / "MARKER").read_text() == "debug install_only"
