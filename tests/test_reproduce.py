"""`python -m pythonbuild reproduce`: the inputs record, the archive comparison, rebuild planning.

Fast: small synthetic archives and temporary git repositories; the rebuild itself runs a stand-in
build-linux.py in a worktree of a throwaway repository. The slow tests at the end take the
end-to-end build's full archive (conftest.py's ``build``; ``STANDALONE_PYTHON_E2E_DIST=dist``
for archives built earlier), tamper with one member of a copy and check that ``--compare``
names exactly that member. No test rebuilds a real archive: that takes as long as a build.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard
from conftest import OPTIONS, PYTHON, TARGET
from require_tool import require_tool

from pythonbuild.distribution.archive import open_distribution, write_distribution_archive
from pythonbuild.linux.images.build import planned_build_image
from pythonbuild.linux.pgo_profile import CLANG_PROFILE, RecordedProfile, bundle_name
from pythonbuild.linux.plan import BuildRequest, make_plan
from pythonbuild.options import parse_options
from pythonbuild.registry import load_registry
from pythonbuild.reproduce import rebuild as rebuild_mod
from pythonbuild.reproduce.cli import main
from pythonbuild.reproduce.details import DetailOptions
from pythonbuild.reproduce.inputs_diff import expected_verdict, flatten
from pythonbuild.reproduce.members import file_sha256
from pythonbuild.reproduce.record import (
    INPUTS_MEMBER,
    BuildInputs,
    InputsError,
    ProjectState,
    build_inputs,
    parse_inputs,
    project_state,
    read_inputs,
    render_inputs,
)
from pythonbuild.reproduce.report import compare_archives
from pythonbuild.targets import get_target

EPOCH = 1_700_000_000
TRIPLE = "x86_64-unknown-linux-gnu"


# ---------------------------------------------------------------------------------------------
# Helpers


def _tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


BASE_FILES: dict[str, bytes | str] = {
    "PYTHON.json": '{"version": "8"}\n',
    "install/lib/os.py": "".join(f"line {i}\n" for i in range(100)),
    "install/bin/python3": b"\x7fELF" + bytes(range(256)) * 4,
    "licenses/LICENSE.txt": "license\n",
}


def _archive(tmp_path: Path, name: str, files: dict[str, bytes | str] | None = None) -> Path:
    """A deterministic archive of ``files`` (BASE_FILES by default), as the build writes them."""
    src = _tree(tmp_path / f"src-{name}", BASE_FILES if files is None else files)
    return write_distribution_archive(
        src, tmp_path / name, group_order=["PYTHON.json"], mtime=EPOCH
    )


def _tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file(name: str, mode: int = 0o644, mtime: int = EPOCH, uid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.uid = mode, mtime, uid
    return info


def _write(path: Path, tar: bytes) -> Path:
    if path.name.endswith(".tar.zst"):
        path.write_bytes(zstandard.ZstdCompressor(level=1, write_checksum=True).compress(tar))
    else:
        path.write_bytes(gzip.compress(tar, mtime=0))
    return path


def _compare(a: Path, b: Path, capsys, *extra: str) -> tuple[int, str]:
    code = main(["--compare", "--no-diffoscope", *extra, str(a), str(b)])
    out, err = capsys.readouterr()
    return code, out + err


def _plan(options: str = "noopt", tag: str = "20260101"):
    target = get_target(TRIPLE)
    request = BuildRequest(target, "3.13", parse_options(options), tag, EPOCH, EPOCH - 10)
    return make_plan(request, load_registry(), planned_build_image(target).tag)


def _record(**changes) -> dict:
    record = build_inputs(_plan(), ProjectState("a" * 40, False))
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = record
        for key in parents:
            node = node[key]
        node[leaf] = value
    return record


def _archive_with_record(tmp_path: Path, record: dict | bytes, name: str = "x-full.tar.zst"):
    data = record if isinstance(record, bytes) else render_inputs(record)
    return _archive(tmp_path, name, {**BASE_FILES, "build/inputs.json": data})


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [require_tool("git"), "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def _repo(path: Path, files: dict[str, bytes | str]) -> Path:
    path.mkdir(parents=True)
    _git(path, "init", "-q")
    _git(path, "config", "user.email", "t@example.invalid")
    _git(path, "config", "user.name", "t")
    _tree(path, files)
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "first")
    return path


# ---------------------------------------------------------------------------------------------
# Comparing two archives


def test_identical_archives(tmp_path, capsys):
    a = _archive(tmp_path, "a.tar.zst")
    b = _archive(tmp_path, "b.tar.zst")
    code, out = _compare(a, b, capsys)
    assert code == 0
    assert out.strip() == f"identical: sha256 {file_sha256(a)}"


def test_changed_text_member(tmp_path, capsys):
    a = _archive(tmp_path, "a.tar.zst")
    changed = dict(BASE_FILES)
    changed["install/lib/os.py"] = str(BASE_FILES["install/lib/os.py"]).replace(
        "line 50\n", "line fifty\n"
    )
    b = _archive(tmp_path, "b.tar.zst", changed)
    code, out = _compare(a, b, capsys)
    assert code == 1
    assert "1 of 8 members differ:" in out  # 4 files, 4 directories
    assert "  changed python/install/lib/os.py" in out
    assert "size 790 -> 793 bytes" in out
    assert "sha256 " in out and " -> " in out
    assert "| -line 50" in out and "| +line fifty" in out
    assert "| --- a/python/install/lib/os.py" in out
    assert out.rstrip().endswith("different: 1 member(s) differ")
    assert "PYTHON.json" not in out.split("differ:")[1].split("different:")[0]


def test_added_and_removed_members(tmp_path, capsys):
    a = _archive(tmp_path, "a.tar.zst")
    files = {k: v for k, v in BASE_FILES.items() if k != "licenses/LICENSE.txt"}
    files["install/lib/new.py"] = "x = 1\n"
    b = _archive(tmp_path, "b.tar.zst", files)
    code, out = _compare(a, b, capsys)
    assert code == 1
    assert "removed python/licenses/LICENSE.txt (file, 8 bytes) only in a" in out
    # the licenses/ directory went with it
    assert "removed python/licenses (directory) only in a" in out
    assert "added   python/install/lib/new.py (file, 6 bytes) only in b" in out
    assert "different: 3 member(s) differ" in out


def test_mode_mtime_and_owner_only(tmp_path, capsys):
    data = b"print('hi')\n"
    a = _write(tmp_path / "a.tar.zst", _tar_bytes([(_file("python/x.py"), data)]))
    b = _write(
        tmp_path / "b.tar.zst",
        _tar_bytes([(_file("python/x.py", mode=0o755, mtime=EPOCH + 60, uid=1000), data)]),
    )
    code, out = _compare(a, b, capsys)
    assert code == 1
    assert "mode 0644 -> 0755" in out
    assert f"mtime {EPOCH} (2023-11-14T22:13:20Z) -> {EPOCH + 60}" in out
    assert "owner 0:0 -> 1000:0" in out
    assert "sha256" not in out.split("members differ:")[1]  # the content is the same
    assert "| " not in out  # and so no content diff


def test_long_text_diff_is_bounded(tmp_path, capsys):
    a = _archive(tmp_path, "a.tar.zst")
    changed = dict(BASE_FILES)
    changed["install/lib/os.py"] = "".join(f"other {i}\n" for i in range(100))
    b = _archive(tmp_path, "b.tar.zst", changed)
    code, out = _compare(a, b, capsys, "--diff-lines", "12")
    assert code == 1
    diff = [line for line in out.splitlines() if line.startswith("      | ")]
    assert len(diff) == 13
    assert diff[-1].endswith("more lines") and "... " in diff[-1]


def test_binary_member_names_first_difference(tmp_path, capsys):
    a = _archive(tmp_path, "a.tar.zst")
    changed = dict(BASE_FILES)
    binary = bytearray(BASE_FILES["install/bin/python3"])  # type: ignore[arg-type]
    binary[300] ^= 0xFF
    changed["install/bin/python3"] = bytes(binary)
    b = _archive(tmp_path, "b.tar.zst", changed)
    code, out = _compare(a, b, capsys)
    assert code == 1
    assert "changed python/install/bin/python3" in out
    assert "binary: first difference at byte offset 300" in out
    assert "size" not in out  # same size


def test_same_members_other_compression(tmp_path, capsys):
    members = [(_file("python/a.txt"), b"a\n"), (_file("python/b.txt"), b"b\n")]
    a = _write(tmp_path / "a.tar.zst", _tar_bytes(members))
    b = _write(tmp_path / "b.tar.gz", _tar_bytes(members))
    code, out = _compare(a, b, capsys)
    assert code == 1
    assert "only the compressed bytes differ" in out
    assert "different: the archive bytes differ" in out


def test_member_order(tmp_path, capsys):
    one, two = (_file("python/a.txt"), b"a\n"), (_file("python/b.txt"), b"b\n")
    a = _write(tmp_path / "a.tar.zst", _tar_bytes([one, two]))
    b = _write(tmp_path / "b.tar.zst", _tar_bytes([two, one]))
    code, out = _compare(a, b, capsys)
    assert code == 1
    assert "another order from 'python/a.txt' (b has 'python/b.txt' there)" in out


def test_details_limit(tmp_path, capsys):
    files = {f"install/f{i}.txt": f"{i}\n" for i in range(5)}
    a = _archive(tmp_path, "a.tar.zst", files)
    b = _archive(tmp_path, "b.tar.zst", {k: v + "x\n" for k, v in files.items()})
    code, out = _compare(a, b, capsys, "--details", "2")
    assert code == 1
    assert out.count("| +x") == 2
    assert "content diffs of the first 2 of 5 changed files" in out


def test_diffoscope_used_when_given(tmp_path):
    fake = tmp_path / "diffoscope"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\nprint('DIFFOSCOPE', sys.argv[1:4])\nsys.exit(1)\n"
    )
    fake.chmod(0o755)
    a = _archive(tmp_path, "a.tar.zst")
    changed = dict(BASE_FILES)
    changed["licenses/LICENSE.txt"] = "other\n"
    b = _archive(tmp_path, "b.tar.zst", changed)
    result = compare_archives(a, b, DetailOptions(diffoscope=str(fake)))
    assert not isinstance(result, str)
    [change] = result.changed
    assert change.detail == ["DIFFOSCOPE ['--text', '-', '--no-progress']"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing.tar.zst", "no such file"),
        (lambda p: _bytes(p / "bad.tar.zst", b"not zstd at all"), "not a zstd-compressed file"),
        (lambda p: _truncated(p), "truncated, corrupt or not a tar archive"),
        (lambda p: _bytes(p / "x.zip", b"PK\x03\x04"), "unsupported archive type"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, capsys, setup, message):
    good = _archive(tmp_path, "good.tar.zst")
    code, out = _compare(good, setup(tmp_path), capsys)
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(tmp_path: Path) -> Path:
    whole = _archive(tmp_path, "whole.tar.zst", {"a.bin": bytes(range(256)) * 4000}).read_bytes()
    return _bytes(tmp_path / "cut.tar.zst", whole[: len(whole) // 2])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--compare", "a.tar.zst"], "--compare takes exactly two archives"),
        (["a.tar.zst", "b.tar.zst"], "give one archive to rebuild"),
        (["--details", "-1", "a.tar.zst"], "--details and --max-listed must be 0 or more"),
    ],
)
def test_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The inputs record


def test_record_is_deterministic_and_valid():
    plan = _plan("pgo+lto")
    state = ProjectState("b" * 40, True, ("docs/x.md",))
    first, second = (render_inputs(build_inputs(plan, state)) for _ in range(2))
    assert first == second and first.endswith(b"\n")
    inputs = parse_inputs(first, "here")
    record = inputs.data
    assert record["target"] == TRIPLE and record["python"] == "3.13"
    assert record["options"] == "pgo+lto" and record["tag"] == "20260101"
    assert record["source_date_epoch"] == {
        "archive": EPOCH,
        "cpython": EPOCH - 10,
        "dependencies": 946684800,
    }
    assert [s["name"] for s in record["steps"]] == [s.name for s in plan.steps]
    assert record["steps"][-1]["key"] == plan.step("cpython").key
    assert [i["role"] for i in record["images"]] == ["base", "sysroot", "build"]
    assert record["images"][2]["tag"] == plan.image_tag
    assert record["images"][2]["tag"].endswith(":" + record["images"][2]["input_hash"])
    assert record["pgo_profile_sha256"] is None
    assert (inputs.dirty, inputs.dirty_paths) == (True, ["docs/x.md"])


def test_record_names_the_replayed_profile():
    plan = _plan("pgo+lto")
    profile = RecordedProfile(Path("p.tar.zst"), "c" * 64, {})
    plan.request = dataclasses.replace(plan.request, pgo_profile=profile)
    assert build_inputs(plan, ProjectState(None, None))["pgo_profile_sha256"] == "c" * 64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps({"format": 99}).encode(), "unknown inputs record format 99"),
        (render_inputs(_record(tag=5)), "at tag: 5 is not of type 'string'"),
        (render_inputs(_record(project__commit="xyz")), "at project/commit"),
        (render_inputs({**_record(), "extra": 1}), "'extra' was unexpected"),
    ],
)
def test_bad_records(data, message):
    with pytest.raises(InputsError, match=message.replace("(", r"\(")) as raised:
        parse_inputs(data, "a.tar.zst:python/build/inputs.json")
    assert raised.value.exit_code == 2


def test_read_inputs_from_archive(tmp_path):
    archive = _archive_with_record(tmp_path, _record())
    assert read_inputs(archive).commit == "a" * 40


def test_archive_without_record(tmp_path, capsys):
    archive = _archive(tmp_path, "old-full.tar.zst")
    assert main([str(archive)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and f"has no {INPUTS_MEMBER}" in err


def test_project_state(tmp_path):
    repo = _repo(tmp_path / "repo", {"a.txt": "a\n", ".gitignore": "build/\n"})
    head = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "build").mkdir()
    (repo / "build" / "ignored").write_text("x")
    assert project_state(repo) == ProjectState(head, False, ())
    (repo / "a.txt").write_text("changed\n")
    (repo / "new.txt").write_text("new\n")
    assert project_state(repo) == ProjectState(head, True, ("a.txt", "new.txt"))
    assert project_state(tmp_path / "not-a-repo") == ProjectState(None, None)


# ---------------------------------------------------------------------------------------------
# Planning a rebuild


def _inputs(**changes) -> BuildInputs:
    return parse_inputs(render_inputs(_record(**changes)), "test")


def test_recorded_tree_checks():
    with pytest.raises(InputsError, match="records no project commit"):
        rebuild_mod.check_recorded_tree(_inputs(project__commit=None), False)
    dirty = _inputs(project__dirty=True, project__dirty_paths=["cpython-unix/x.sh"])
    with pytest.raises(InputsError, match=r"cannot be reproduced exactly: .* cpython-unix/x.sh"):
        rebuild_mod.check_recorded_tree(dirty, False)
    [note] = rebuild_mod.check_recorded_tree(dirty, True)
    assert "without them" in note
    assert rebuild_mod.check_recorded_tree(_inputs(), False) == []


def test_epoch_environment():
    inputs = _inputs()  # archive EPOCH, cpython EPOCH - 10
    assert rebuild_mod.epoch_environment(inputs, EPOCH, EPOCH - 10) == {}
    same = _inputs(source_date_epoch__cpython=EPOCH)
    assert rebuild_mod.epoch_environment(same, EPOCH, None) == {}
    assert rebuild_mod.epoch_environment(same, 5, 4) == {"SOURCE_DATE_EPOCH": str(EPOCH)}
    with pytest.raises(InputsError, match="cannot make them again"):
        rebuild_mod.epoch_environment(inputs, 5, 4)


def _profile_bundle(path: Path, content: bytes) -> Path:
    """A profile bundle as a pgo build writes it (pythonbuild/linux/pgo_profile.py)."""
    src = _tree(path.parent / f"{path.name}.src", {CLANG_PROFILE: content})
    return write_distribution_archive(src, path, top="profile", mtime=EPOCH)


def test_profile_resolution(tmp_path):
    archive = tmp_path / "cpython-3.13.15+20260101-x-pgo+lto-full.tar.zst"
    plain = _inputs()
    assert rebuild_mod.resolve_profile(plain, archive, None) == (None, [])
    with pytest.raises(InputsError, match="noopt builds do not use a profile"):
        rebuild_mod.resolve_profile(plain, archive, tmp_path / "p")
    trained = _inputs(options="pgo+lto")
    with pytest.raises(InputsError, match="trained its own PGO profile"):
        rebuild_mod.resolve_profile(trained, archive, None)
    sibling = _profile_bundle(tmp_path / bundle_name(archive.name), b"profile")
    path, notes = rebuild_mod.resolve_profile(trained, archive, None)
    assert path == sibling and "differ in pgo_profile_sha256" in notes[-1]
    replayed = _inputs(options="pgo+lto", pgo_profile_sha256=file_sha256(sibling))
    assert rebuild_mod.resolve_profile(replayed, archive, None) == (sibling, [notes[0]])
    other = _profile_bundle(tmp_path / "other.tar.zst", b"another profile")
    with pytest.raises(InputsError, match=r"^--pgo-profile .* but the archive was built with"):
        rebuild_mod.resolve_profile(replayed, archive, other)
    other.replace(sibling)
    with pytest.raises(InputsError, match=r"^the profile bundle beside it, .* has sha256"):
        rebuild_mod.resolve_profile(replayed, archive, None)
    with pytest.raises(InputsError, match=r"not a readable \.tar\.zst"):
        rebuild_mod.resolve_profile(replayed, archive, _bytes(tmp_path / "junk", b"junk"))
    sibling.unlink()
    with pytest.raises(InputsError, match="pass it with --pgo-profile FILE"):
        rebuild_mod.resolve_profile(replayed, archive, None)


def test_build_command():
    inputs = _inputs(options="pgo+lto")
    command = rebuild_mod.build_command(
        inputs, Path("/t"), Path("/d"), Path("/c"), Path("/s"), Path("/p.tar.zst")
    )
    assert command == [
        "/t/build-linux.py", "--target", TRIPLE, "--python", "3.13", "--options", "pgo+lto",
        "--tag", "20260101", "--dist", "/d", "--cache-dir", "/c", "--no-validate",
        "--source-dir", "/s", "--pgo-profile", "/p.tar.zst",
    ]  # fmt: skip


# A stand-in for build-linux.py: copies $FAKE_BUILD_ARCHIVE into --dist, keeping its name.
FAKE_BUILD = f"""#!{sys.executable}
import os, shutil, sys
from pathlib import Path
args = sys.argv[1:]
dist = Path(args[args.index("--dist") + 1])
dist.mkdir(parents=True)
made = Path(os.environ["FAKE_BUILD_ARCHIVE"])
shutil.copy(made, dist / made.name)
assert not Path(__file__).with_name("uncommitted.txt").exists(), "the checkout leaked in"
"""


def _fake_project(path: Path) -> tuple[Path, str]:
    repo = _repo(path, {"build-linux.py": FAKE_BUILD, "requirements.txt": ""})
    (repo / "build-linux.py").chmod(0o755)
    _git(repo, "add", "build-linux.py")
    _git(repo, "commit", "-q", "-m", "executable")
    return repo, _git(repo, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize("same", [True, False])
def test_rebuild_in_a_worktree(tmp_path, monkeypatch, capsys, same):
    """The whole rebuild path with a stand-in build: worktree, build, compare, clean-up."""
    name = "cpython-3.13.15+20260101-x86_64-unknown-linux-gnu-noopt-full.tar.zst"
    repo, head = _fake_project(tmp_path / "project")
    (repo / "uncommitted.txt").write_text("in the checkout only: the rebuild must not see it\n")
    commit_time = int(_git(repo, "log", "-1", "--format=%ct").strip())
    record = _record(
        project__commit=head,
        source_date_epoch__archive=commit_time,
        source_date_epoch__cpython=commit_time,
    )
    files = {**BASE_FILES, "build/inputs.json": render_inputs(record), "install/v.txt": "1\n"}
    (tmp_path / "orig").mkdir()
    (tmp_path / "made").mkdir()
    original = _archive(tmp_path / "orig", name, files)
    made = _archive(tmp_path / "made", name, {**files, "install/v.txt": "1\n" if same else "2\n"})
    monkeypatch.setenv("FAKE_BUILD_ARCHIVE", str(made))
    monkeypatch.setattr(rebuild_mod, "ROOT", repo)
    work = tmp_path / "work"
    code = main([str(original), "--work-dir", str(work), "--cache-dir", str(tmp_path / "c")])
    out, err = capsys.readouterr()
    assert code == (0 if same else 1), out + err
    assert f"adding a worktree of {head[:12]}" in err
    assert _git(repo, "worktree", "list").count("\n") == 1  # removed again
    runs = list(work.iterdir())
    if same:
        assert runs == []
        assert out.strip() == f"identical: sha256 {file_sha256(original)}"
    else:
        [run] = runs
        assert (run / "dist" / name).is_file() and not (run / "cache").exists()
        assert "changed python/install/v.txt" in out and "| +2" in out


def test_dry_run_and_unknown_commit(tmp_path, monkeypatch, capsys):
    repo, head = _fake_project(tmp_path / "project")
    monkeypatch.setattr(rebuild_mod, "ROOT", repo)
    commit_time = int(_git(repo, "log", "-1", "--format=%ct").strip())
    record = _record(
        project__commit=head,
        source_date_epoch__archive=commit_time - 5,
        source_date_epoch__cpython=commit_time - 5,
    )
    archive = _archive_with_record(tmp_path, record)
    assert main([str(archive), "--dry-run", "--work-dir", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"SOURCE_DATE_EPOCH={commit_time - 5} ")
    assert "build-linux.py --target x86_64-unknown-linux-gnu --python 3.13" in out
    assert not (tmp_path / "w").exists()
    unknown = _archive_with_record(tmp_path, _record(project__commit="f" * 40), "u-full.tar.zst")
    assert main([str(unknown)]) == 2
    assert "is not in this clone" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# A real archive (slow)


def _tampered_copy(original: Path, dest: Path) -> tuple[Path, str, int]:
    """A copy of ``original`` with one byte appended to one stdlib .py file, every other member
    (headers included) as it was; returns it, the member's name and its new size."""
    victim, size = "", 0
    pattern = re.compile(r"python/install/lib/python3\.\d+t?/[^/]+\.py")
    with (
        open_distribution(original) as source,
        dest.open("wb") as raw,
        zstandard.ZstdCompressor(level=1).stream_writer(raw) as stream,
        tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as copy,
    ):
        for info in source:
            handle = source.extractfile(info) if info.isreg() else None
            if handle is not None and not victim and pattern.fullmatch(info.name):
                data = handle.read() + b"#"
                victim, size, info.size = info.name, len(data), len(data)
                copy.addfile(info, io.BytesIO(data))
            else:
                copy.addfile(info, handle)
    assert victim, "no stdlib .py file in the archive"
    return dest, victim, size


@pytest.mark.slow
def test_compare_names_the_tampered_member(build, tmp_path, capsys):
    original = build["full"]
    assert main(["--compare", str(original), str(original)]) == 0
    assert capsys.readouterr().out.startswith("identical: sha256 ")
    tampered, victim, size = _tampered_copy(original, tmp_path / original.name)
    code, out = _compare(original, tampered, capsys)
    assert code == 1, out
    assert re.search(r"^1 of \d+ members differ:$", out, re.MULTILINE), out
    changed = [line for line in out.splitlines() if line.startswith("  changed ")]
    assert changed == [f"  changed {victim}"]
    assert f"-> {size} bytes" in out
    assert "different: 1 member(s) differ" in out


@pytest.mark.slow
def test_built_archive_records_its_inputs(build):
    # Every full archive this checkout builds carries a valid record (assemble.py writes it): a
    # missing, unparsable or schema-invalid one is a failure, never a skip.
    try:
        inputs = read_inputs(build["full"])
    except InputsError as exc:
        pytest.fail(f"the built archive's {INPUTS_MEMBER} is unusable: {exc}", pytrace=False)
    assert (inputs.target, inputs.python, inputs.options) == (TARGET, PYTHON, OPTIONS.name)
    assert build["full"].name.endswith(f"+{inputs.tag}-{TARGET}-{OPTIONS.name}-full.tar.zst")
    assert inputs.commit is not None and len(inputs.commit) == 40


# ---------------------------------------------------------------------------------------------
# Archives that differ only in their inputs records


def test_flatten_names_list_items():
    flat = flatten(_record())
    assert flat["project.commit"] == "a" * 40
    assert flat["steps[cpython].source"] == "cpython-3.13"
    assert flat["images[build].tag"].startswith("standalone-python/build-")
    assert flat["project.dirty_paths"] == []


@pytest.mark.parametrize(
    ("changes", "expected", "verdict"),
    [
        (
            {"project__dirty": False, "project__dirty_paths": []},
            set(rebuild_mod.DIRTY_FIELDS),
            "differs only where this rebuild had to differ",
        ),
        ({"tag": "20260102"}, set(rebuild_mod.DIRTY_FIELDS), "in fields a faithful rebuild keeps"),
    ],
)
def test_inputs_only_difference(tmp_path, capsys, changes, expected, verdict):
    original = _record(project__dirty=True, project__dirty_paths=["docs/x.md"])
    a = _archive_with_record(tmp_path, original, "a-full.tar.zst")
    rebuilt = json.loads(render_inputs(original))
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = rebuilt
        for key in parents:
            node = node[key]
        node[leaf] = value
    b = _archive_with_record(tmp_path, rebuilt, "b-full.tar.zst")
    result = compare_archives(a, b, DetailOptions())
    assert not isinstance(result, str)
    lines = expected_verdict(result, expected)
    assert verdict in lines[0]
    for key in changes:
        assert any(line.startswith(f"  {key.replace('__', '.')}: ") for line in lines[1:])


def test_no_inputs_verdict_when_more_differs(tmp_path):
    a = _archive_with_record(tmp_path, _record(), "a-full.tar.zst")
    files = {**BASE_FILES, "build/inputs.json": render_inputs(_record(tag="x")), "new.txt": "n"}
    b = _archive(tmp_path, "b-full.tar.zst", files)
    result = compare_archives(a, b, DetailOptions())
    assert not isinstance(result, str)
    assert expected_verdict(result, set()) == []
