"""musl targets: musl built first and read by every step, the image's compiler drivers, the C
runtime description, validate's rules and the musl the tests run with."""

from __future__ import annotations

import io
import json
import os
import struct
import tarfile
from pathlib import Path

import pytest
from tarfiles import tar_bytes

from pythonbuild.distribution import metadata
from pythonbuild.errors import BuildError, UsageError
from pythonbuild.linux import plan
from pythonbuild.linux.images import build as images
from pythonbuild.options import BuildOptions, parse_options
from pythonbuild.registry import load_registry
from pythonbuild.targets import get_target
from pythonbuild.testdist import musl_root, musl_runtime

MUSL = get_target("x86_64-unknown-linux-musl")
GNU = get_target("x86_64-unknown-linux-gnu")


def _plan(target):
    request = plan.BuildRequest(target, "3.13", BuildOptions(), "20231114", 1_700_000_000)
    return plan.make_plan(request, load_registry(), "img:1")


def test_musl_is_the_target_data_says() -> None:
    assert MUSL.libc == "musl" and MUSL.libc_package(BuildOptions()) == "musl"
    assert MUSL.glibc_floor is None and MUSL.gnu_triple == "x86_64-linux-musl"
    assert MUSL.needed_libraries == ("libc.so",)
    assert GNU.libc == "glibc" and GNU.libc_package(BuildOptions()) is None
    assert load_registry()["musl"].version == "1.2.3"  # the dynamic flavor's floor
    # +static links the newest musl, another pin of the same project.
    assert MUSL.libc_package(parse_options("lto+static")) == "musl-static"
    static = load_registry()["musl-static"]
    assert static.project == "musl" and static.version == "1.2.6"


def test_musl_is_built_first_and_read_by_every_step() -> None:
    steps = _plan(MUSL).steps
    assert steps[0].name == "musl" and steps[0].depends == []
    for step in steps[1:]:
        assert step.depends[0] == "musl", step.name
    # The glibc plan is what it was: no musl anywhere.
    assert all("musl" not in (s.name, *s.depends) for s in _plan(GNU).steps)


def _static_plan(options: str = "lto+static"):
    request = plan.BuildRequest(MUSL, "3.13", parse_options(options), "20231114", 1_700_000_000)
    return plan.make_plan(request, load_registry(), "img:1")


def test_static_builds_link_the_newest_musl_and_no_shared_module() -> None:
    static = _static_plan()
    steps = {s.name: s for s in static.steps}
    assert static.steps[0].name == "musl-static" and "musl" not in steps
    assert static.steps[0].script.name == "build-musl.sh"  # the project's one script
    assert all(s.depends[0] == "musl-static" for s in static.steps[1:])
    env = plan.step_environment(static.request, steps["cpython"])
    assert env["BUILD_OPTIONS"] == "lto+static" and env["SHARED_MODULES"] == ""
    assert "_testcapi" in env["DISABLED_MODULES"].split()
    # The dynamic flavor's libraries are other artifacts: none is shared with +static.
    dynamic = {s.artifact_name for s in _plan(MUSL).steps}
    assert not dynamic & {s.artifact_name for s in static.steps}
    # Every +static option set of a target shares one set of libraries.
    libraries = [s.artifact_name for s in static.steps if s.name != "cpython"]
    other = _static_plan("freethreaded+noopt+static")
    assert [s.artifact_name for s in other.steps if s.name != "cpython"] == libraries


def test_static_on_glibc_is_refused_in_one_line(capsys) -> None:
    from pythonbuild.linux.cli import main

    status = main(["--target", "x86_64-unknown-linux-gnu", "--options", "lto+static"])
    err = capsys.readouterr().err
    assert status == 2
    assert "no +static flavor" in err and "x86_64-unknown-linux-musl" in err
    assert err.count("\n") == 1
    assert GNU.refusal(parse_options("lto")) is None
    assert MUSL.refusal(parse_options("pgo+lto+static")) is None


def test_a_changed_musl_rebuilds_every_step(monkeypatch) -> None:
    before = {s.name: s.key for s in _plan(MUSL).steps}
    registry = load_registry()
    real_getitem = type(registry).__getitem__

    def other_musl(self, name):
        source = real_getitem(self, name)
        if name == "musl":
            from dataclasses import replace

            return replace(source, sha256="0" * 64)
        return source

    monkeypatch.setattr(type(registry), "__getitem__", other_musl)
    after = {s.name: s.key for s in _plan(MUSL).steps}
    assert all(before[name] != after[name] for name in before)


def test_the_musl_image_links_against_the_built_musl() -> None:
    dockerfile = images.planned_build_image(MUSL).dockerfile
    assert (
        "--target=x86_64-linux-musl --sysroot=/tools/musl -fuse-ld=lld -static-libgcc" in dockerfile
    )
    assert "ENV TARGET_SYSROOT=/tools/musl" in dockerfile
    assert "ln -s /tools/musl/lib/ld-musl-x86_64.so.1 /lib/" in dockerfile
    assert images.build_image_name(MUSL).endswith("/build-x86_64-linux-musl-bullseye")
    gnu = images.planned_build_image(GNU).dockerfile
    assert "ENV TARGET_SYSROOT=/tools/glibc" in gnu and "static-libgcc" not in gnu
    assert "ld-musl" not in gnu


def test_crt_features_of_a_musl_build() -> None:
    assert metadata._crt_features(MUSL, None, "1.2.3") == ["musl-dynamic", "musl-version:1.2.3"]
    with pytest.raises(BuildError, match=r"needs GLIBC_2\.17"):
        metadata._crt_features(MUSL, "2.17", "1.2.3")
    assert metadata._crt_features(GNU, "2.17", None)[0] == "glibc-dynamic"


def _elf_header(machine: int) -> bytes:
    """A 64-bit little-endian ELF file with only its header (62: x86_64, 183: aarch64)."""
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    return ident + struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, 0, 0, 0, 64, 56, 0, 64, 0, 0)


X86_64_LIBC, AARCH64_LIBC = _elf_header(62), _elf_header(183)


def _musl_artifact(path: Path, libc: bytes | None = X86_64_LIBC) -> Path:
    files = {"tools/musl/usr/lib/libc.so": libc} if libc is not None else {"tools/musl/README": b""}
    path.write_bytes(tar_bytes(files))
    return path


def test_the_tests_use_the_musl_of_the_build(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    with pytest.raises(BuildError, match="build the target on this machine first"):
        musl_runtime.musl_artifact(MUSL, "musl", tmp_path)
    artifact = _musl_artifact(artifacts / "musl-1.2.3-0123456789abcdef.tar")
    assert musl_runtime.musl_artifact(MUSL, "musl", tmp_path) == artifact
    # Another target's musl step of the same version, made later, is not taken...
    arm = _musl_artifact(artifacts / "musl-1.2.3-fedcba9876543210.tar", AARCH64_LIBC)
    os.utime(arm, (artifact.stat().st_mtime + 10,) * 2)
    assert musl_runtime.musl_artifact(MUSL, "musl", tmp_path) == artifact
    # ... and an archive's build record names its own.
    assert musl_runtime.musl_artifact(MUSL, "musl", tmp_path, arm.name) == arm
    with pytest.raises(BuildError, match=r"no musl-1\.2\.3-00\.tar in"):
        musl_runtime.musl_artifact(MUSL, "musl", tmp_path, "musl-1.2.3-00.tar")
    record = tmp_path / "inputs.json"
    record.write_text(json.dumps({"steps": [{"name": "musl", "artifact": arm.name}]}))
    assert musl_runtime.recorded_artifact(record, "musl") == arm.name
    assert musl_runtime.recorded_artifact(record, "musl-static") is None
    assert musl_runtime.recorded_artifact(tmp_path / "absent.json", "musl") is None
    libc = musl_runtime.extract_libc(artifact, "musl", tmp_path / "work" / "libc.so")
    assert libc.read_bytes() == X86_64_LIBC and libc.stat().st_mode & 0o111
    binds = musl_runtime.musl_binds(libc, "/lib/ld-musl-x86_64.so.1")
    assert [(b.path, b.source) for b in binds] == [
        ("/lib/ld-musl-x86_64.so.1", str(libc)),
        ("/usr/bin/ldd", str(libc)),
    ]
    with pytest.raises(BuildError, match="not a musl build"):
        musl_runtime.musl_binds(libc, "/lib64/ld-linux-x86-64.so.2")
    broken = _musl_artifact(tmp_path / "broken.tar", libc=None)
    with pytest.raises(BuildError, match=r"holds no tools/musl/usr/lib/libc\.so"):
        musl_runtime.extract_libc(broken, "musl", tmp_path / "libc2.so")


def test_the_uv_downloads_list_names_musl_as_uv_does() -> None:
    from pythonbuild.release.files import uv_key, uv_platform

    assert uv_platform(MUSL.triple) == ("x86_64", None, "linux", "musl")
    fields = {"python_version": "3.13.15", "triple": MUSL.triple}
    assert uv_key(fields, None) == "cpython-3.13.15-linux-x86_64-musl"


def test_musl_test_systems_are_what_each_distribution_can_run_in() -> None:
    dynamic, static = BuildOptions(), parse_options("lto+static")
    assert musl_root.musl_root_for("musl", MUSL, dynamic).libc_package == "musl"
    assert musl_root.musl_root_for("musl-newest", MUSL, dynamic).libc_package == "musl-static"
    assert musl_root.musl_root_for("scratch", MUSL, static).libc_package is None
    for system, target, options, needle in [
        ("scratch", MUSL, dynamic, "needs musl's loader"),
        ("musl", GNU, dynamic, "needs glibc"),
    ]:
        with pytest.raises(UsageError, match=needle) as info:
            musl_root.musl_root_for(system, target, options)
        assert "\n" not in str(info.value)


def test_a_musl_root_holds_musl_busybox_and_certificates_and_no_glibc(tmp_path: Path) -> None:
    helper = tmp_path / "debian"
    (helper / "bin").mkdir(parents=True)
    busybox = helper / "bin" / "busybox"
    busybox.write_text("#!/bin/sh\nprintf 'sh\\nls\\nbusybox\\n'\n")
    busybox.chmod(0o755)
    certs = helper / "etc" / "ssl" / "certs"
    certs.mkdir(parents=True)
    (certs / "ca-certificates.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    (helper / "etc" / "services").write_text("http 80/tcp www\n")
    (helper / "etc" / "protocols").write_text("tcp 6 TCP\n")
    terminfo = helper / "usr" / "lib" / "terminfo" / "x"
    terminfo.mkdir(parents=True)
    (terminfo / "xterm").write_bytes(b"compiled xterm")
    (terminfo / "xterm-debian").symlink_to("xterm")
    (terminfo / "escapes").symlink_to("/etc/passwd")  # leads out of the helper: left out
    (helper / "lib").symlink_to("usr/lib")
    root = musl_root.musl_root_for("musl", MUSL, BuildOptions())
    data = musl_root.root_tar(root, b"\x7fELF musl", helper)
    assert data == musl_root.root_tar(root, b"\x7fELF musl", helper)  # the same bytes each time
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        loader = tar.extractfile("lib/ld-musl-x86_64.so.1")
        assert loader is not None and loader.read() == b"\x7fELF musl"
    assert members["bin/sh"].linkname == "busybox" and "bin/busybox" in members
    assert members["lib/libc.musl-x86_64.so.1"].linkname == "ld-musl-x86_64.so.1"
    assert members["usr/bin/ldd"].linkname == "/lib/ld-musl-x86_64.so.1"  # as Alpine's musl-utils
    assert {"etc/services", "etc/protocols"} <= set(members)
    assert {"etc/ssl/cert.pem", "etc/ssl/certs/ca-certificates.crt"} <= set(members)
    # Terminal descriptions where Alpine keeps its base set, copies and no links.
    assert [n for n in members if n.startswith("etc/terminfo/")] == [
        "etc/terminfo/x", "etc/terminfo/x/xterm", "etc/terminfo/x/xterm-debian"
    ]  # fmt: skip
    assert members["etc/terminfo/x"].isdir() and members["etc/terminfo/x/xterm-debian"].isfile()
    assert members["tmp"].mode == 0o1777 and {m.uid for m in members.values()} == {0}
    musl_root.check_no_glibc(data)
    scratch = musl_root.root_tar(musl_root.musl_root_for("scratch", MUSL, parse_options("static")),
                                 None, None)  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(scratch)) as tar:
        assert tar.getnames() == ["tmp"]
    glibc = io.BytesIO()
    with tarfile.open(fileobj=glibc, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("lib/x86_64-linux-gnu/libc.so.6"), io.BytesIO(b""))
    with pytest.raises(BuildError, match="glibc files"):
        musl_root.check_no_glibc(glibc.getvalue())


def test_pgo_training_on_musl_gets_the_profile_runtime_stand_ins() -> None:
    def cpython_files(target, options: str) -> set[str]:
        request = plan.BuildRequest(target, "3.13", parse_options(options), "20231114", 1)
        built = plan.make_plan(request, load_registry(), "img:1")
        return {path.name for path in built.step("cpython").extra_files}

    assert "pgo-runtime-shims.c" in cpython_files(MUSL, "pgo+lto")
    assert "pgo-runtime-shims.c" not in cpython_files(MUSL, "lto")  # keys of the others stay
    assert "pgo-runtime-shims.c" not in cpython_files(GNU, "pgo+lto")
    assert "ctypes-without-dlopen.patch" in cpython_files(MUSL, "pgo+lto+static")
    assert "ctypes-without-dlopen.patch" not in cpython_files(MUSL, "pgo+lto")
