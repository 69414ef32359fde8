"""The mount namespace in which another CPU's programs find their loader (no qemu needed).

The plan is data (which mounts, in which order, from which files); one test as root runs the
real thing with this machine's own loader under a name nothing on this machine has.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from pythonbuild.bench.chroot import mount_points
from pythonbuild.distribution.elf import read_interpreter
from pythonbuild.errors import BuildError
from pythonbuild.options import BuildOptions
from pythonbuild.targets import get_target
from pythonbuild.testdist import emulated
from pythonbuild.testdist.emulated import Emulation, loader_binds, resolve_in_root
from pythonbuild.testdist.loader_namespace import (
    MS_BIND,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    Bind,
    MakeDir,
    MakeFile,
    Mount,
    NamespaceError,
    plan,
)
from pythonbuild.testdist.regrtest import RegrtestSettings, regrtest_command

ARM = get_target("aarch64-unknown-linux-gnu")
RO = MS_BIND | MS_REMOUNT | MS_RDONLY


def _fake_rootfs(root: Path, loader: str, multiarch: str, real: str = "ld-2.31.so") -> Path:
    """A merged-/usr tree laid out as Debian's: /lib -> usr/lib, the loader a relative link into
    its multiarch directory."""
    (root / "usr" / "lib" / multiarch).mkdir(parents=True)
    (root / "usr" / "lib" / multiarch / real).write_bytes(b"\x7fELF")
    (root / "lib").symlink_to("usr/lib")
    (root / "usr" / "lib" / loader).symlink_to(f"{multiarch}/{real}")
    return root


def test_the_loader_and_its_multiarch_directory_come_from_the_rootfs(tmp_path):
    loader = ARM.needed_libraries[0]  # ld-linux-aarch64.so.1
    rootfs = _fake_rootfs(tmp_path, loader, "aarch64-linux-gnu")
    binds = loader_binds(rootfs, f"/lib/{loader}")
    libs = str(rootfs / "usr/lib/aarch64-linux-gnu")
    assert binds == (
        Bind(f"/lib/{loader}", f"{libs}/ld-2.31.so"),
        Bind("/lib/aarch64-linux-gnu", libs),
        Bind("/usr/lib/aarch64-linux-gnu", libs),
    )


def test_another_layout_gives_its_own_directory_not_the_gnu_triple(tmp_path):
    # i386: the loader is /lib/ld-linux.so.2, the multiarch directory i386-linux-gnu (the GNU
    # triple is i686-linux-gnu); ppc64el's loader is in /lib64 and an absolute link.
    rootfs = _fake_rootfs(tmp_path / "i386", "ld-linux.so.2", "i386-linux-gnu")
    assert [b.path for b in loader_binds(rootfs, "/lib/ld-linux.so.2")][1:] == [
        "/lib/i386-linux-gnu",
        "/usr/lib/i386-linux-gnu",
    ]
    rootfs = tmp_path / "ppc64el"
    (rootfs / "usr/lib/powerpc64le-linux-gnu").mkdir(parents=True)
    (rootfs / "usr/lib/powerpc64le-linux-gnu/ld64.so.2").write_bytes(b"\x7fELF")
    (rootfs / "usr/lib64").mkdir()
    (rootfs / "lib").symlink_to("usr/lib")
    (rootfs / "lib64").symlink_to("usr/lib64")
    (rootfs / "usr/lib64/ld64.so.2").symlink_to("/lib/powerpc64le-linux-gnu/ld64.so.2")
    binds = loader_binds(rootfs, "/lib64/ld64.so.2")
    assert binds[0] == Bind(
        "/lib64/ld64.so.2", str(rootfs / "usr/lib/powerpc64le-linux-gnu/ld64.so.2")
    )
    assert binds[1].path == "/lib/powerpc64le-linux-gnu"


def test_links_resolve_inside_the_rootfs_never_on_this_machine(tmp_path):
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "lib").symlink_to("/usr/lib")  # absolute: must stay inside tmp_path
    (tmp_path / "usr/lib/a").symlink_to("../lib/./b")
    assert str(resolve_in_root(tmp_path, "/lib/a")) == "/usr/lib/b"
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(BuildError, match="too many symbolic links"):
        resolve_in_root(tmp_path, "/loop")


def test_a_rootfs_without_the_loader_is_one_line(tmp_path):
    _fake_rootfs(tmp_path, "ld-linux-aarch64.so.1", "aarch64-linux-gnu")
    with pytest.raises(BuildError) as info:
        loader_binds(tmp_path, "/lib/ld-linux-riscv64-lp64d.so.1")
    assert "no loader /lib/ld-linux-riscv64-lp64d.so.1" in str(info.value)
    assert "\n" not in str(info.value)


def _merged_usr(path: str) -> str:
    return "/usr/lib" + path[len("/lib") :] if path.startswith("/lib") else path


ARM_BINDS = [
    Bind("/lib/ld-linux-aarch64.so.1", "/c/rootfs/usr/lib/aarch64-linux-gnu/ld-2.31.so"),
    Bind("/lib/aarch64-linux-gnu", "/c/rootfs/usr/lib/aarch64-linux-gnu"),
    Bind("/usr/lib/aarch64-linux-gnu", "/c/rootfs/usr/lib/aarch64-linux-gnu"),
]


def _isdir(path: str) -> bool:
    return not path.endswith(".so") and ".so." not in path


def test_the_plan_on_a_merged_usr_machine_is_one_overlay_and_two_read_only_binds():
    operations = plan(ARM_BINDS, "/w/scratch", realpath=_merged_usr, isdir=_isdir)
    upper, work = "/w/scratch/0/upper", "/w/scratch/0/work"
    overlay_options = f"lowerdir=/usr/lib,upperdir={upper},workdir={work}"
    assert operations == [
        Mount("/", flags=MS_REC | MS_PRIVATE),
        Mount("/w/scratch", "loader-scratch", "tmpfs", data="mode=0700"),
        MakeDir(upper),
        MakeDir(work),
        MakeDir(f"{upper}/aarch64-linux-gnu"),
        MakeFile(f"{upper}/ld-linux-aarch64.so.1"),
        Mount("/usr/lib", "loader-overlay", "overlay", data=overlay_options),
        Mount("/usr/lib/aarch64-linux-gnu", ARM_BINDS[1].source, flags=MS_BIND),
        Mount("/usr/lib/aarch64-linux-gnu", flags=RO),
        Mount("/usr/lib/ld-linux-aarch64.so.1", ARM_BINDS[0].source, flags=MS_BIND),
        Mount("/usr/lib/ld-linux-aarch64.so.1", flags=RO),
    ]


def test_without_merged_usr_each_directory_gets_its_overlay():
    operations = plan(ARM_BINDS, "/w/s", realpath=lambda p: p, isdir=_isdir)
    overlays = [o.target for o in operations if isinstance(o, Mount) and o.fstype == "overlay"]
    assert overlays == ["/lib", "/usr/lib"]
    binds = [o.target for o in operations if isinstance(o, Mount) and o.flags == MS_BIND]
    assert binds == [
        "/lib/aarch64-linux-gnu",
        "/lib/ld-linux-aarch64.so.1",
        "/usr/lib/aarch64-linux-gnu",
    ]


@pytest.mark.parametrize(
    ("binds", "scratch", "complaint"),
    [
        ([Bind("/lib64/ld64.so.2", "/r/ld")], "/w", "no directory /lib64"),
        ([Bind("lib/x", "/r/x")], "/w", "absolute path"),
        ([Bind("/lib/x", "/r/x"), Bind("/usr/lib/x", "/r/y")], "/w", "are both /usr/lib/x"),
        ([Bind("/lib/x", "/r/x")], "/tmp/a,b", "cannot be an overlayfs option"),
    ],
)
def test_a_plan_that_cannot_work_is_refused(binds, scratch, complaint):
    def isdir(path: str) -> bool:
        return path in ("/usr/lib", "/w")

    with pytest.raises(NamespaceError, match=complaint):
        plan(binds, scratch, realpath=_merged_usr, isdir=isdir)


def test_the_launcher_runs_the_script_with_this_interpreter_isolated(tmp_path):
    emulation = Emulation("aarch64", Path("/c/rootfs"), tuple(ARM_BINDS[:2]))
    launcher = emulation.launcher(tmp_path)
    assert launcher[:3] == [sys.executable, "-I", str(emulated.NAMESPACE_SCRIPT)]
    assert launcher[3:] == [
        f"--scratch={tmp_path}",
        f"--bind={ARM_BINDS[0].path}={ARM_BINDS[0].source}",
        f"--bind={ARM_BINDS[1].path}={ARM_BINDS[1].source}",
        "--",
    ]
    cmd = regrtest_command(
        Path("/d/python3"), RegrtestSettings(launcher=tuple(launcher)), tmp_path / "j.xml", []
    )
    assert cmd[: len(launcher) + 3] == [*launcher, "nice", "-n", "10"]  # nice runs inside


def test_testing_another_cpu_needs_root(tmp_path, monkeypatch):
    monkeypatch.setattr(emulated.os, "geteuid", lambda: 1000)
    with pytest.raises(BuildError) as info:
        emulated.emulation_for(
            ARM, BuildOptions(), tmp_path / "python3", tmp_path, tmp_path / "s", tmp_path
        )
    assert "needs root" in str(info.value) and "\n" not in str(info.value)


def test_i686_runs_on_this_cpu_with_an_i386_systems_loader_and_no_qemu(tmp_path, monkeypatch):
    rootfs = _fake_rootfs(tmp_path / "i386", "ld-linux.so.2", "i386-linux-gnu")
    specs = []

    def fake_rootfs_dir(spec, cache_dir, logs):
        specs.append(spec)
        return rootfs

    def no_qemu(*args):
        pytest.fail("i386 code needs no emulator on an x86_64 machine")

    monkeypatch.setattr(emulated, "runtime_rootfs_dir", fake_rootfs_dir)
    monkeypatch.setattr(emulated, "read_interpreter", lambda path: "/lib/ld-linux.so.2")
    monkeypatch.setattr(emulated, "_check_start", lambda *args: None)
    monkeypatch.setattr(emulated, "ensure_emulation", no_qemu)
    monkeypatch.setattr(emulated.os, "geteuid", lambda: 0)
    i686 = get_target("i686-unknown-linux-gnu")
    emulation = emulated.emulation_for(
        i686, BuildOptions(), tmp_path / "python3", tmp_path, tmp_path / "s", tmp_path
    )
    assert emulation is not None and emulation.emulator is None and emulation.how == ""
    assert (specs[0].suite, specs[0].arch) == ("bullseye", "i386")
    assert [b.path for b in emulation.binds] == [
        "/lib/ld-linux.so.2", "/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu"
    ]


# ---------------------------------------------------------------------------------------------
# The real namespace, with this machine's loader (root only)

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="a mount namespace needs root (CI runs the tests as root)"
)


def _with_interpreter(program: Path, copy: Path, interpreter: str) -> Path:
    """A copy of ``program`` whose PT_INTERP names ``interpreter`` (no longer than before)."""
    shutil.copy2(program, copy)
    with copy.open("r+b") as handle:
        segment = next(s for s in ELFFile(handle).iter_segments() if s["p_type"] == "PT_INTERP")
        size = segment["p_filesz"]
        assert len(interpreter) < size
        handle.seek(segment["p_offset"])
        handle.write(interpreter.encode().ljust(size, b"\0"))
    assert read_interpreter(copy) == interpreter
    return copy


@needs_root
def test_a_child_with_an_empty_environment_finds_the_loader_and_nothing_stays(tmp_path):
    # The kernel loads a native program's PT_INTERP just as qemu-user loads an emulated one's:
    # a copy of `true` that asks for a loader this machine does not have runs only where the
    # namespace put it, with no environment that could point anywhere.
    name = f"ld-sp{secrets.token_hex(3)}.so.1"
    multiarch = f"sp{secrets.token_hex(3)}-linux-gnu"
    assert not Path(f"/lib/{name}").exists() and not Path(f"/lib/{multiarch}").exists()
    rootfs = _fake_rootfs(tmp_path / "rootfs", name, multiarch, real="ld-9.99.so")
    host_loader = Path(read_interpreter(Path("/bin/true")) or "").resolve()
    shutil.copy2(host_loader, rootfs / "usr/lib" / multiarch / "ld-9.99.so")
    (rootfs / "usr/lib" / multiarch / "marker").write_text("from the rootfs\n")
    true = _with_interpreter(Path("/bin/true"), tmp_path / "true", f"/lib/{name}")
    emulation = Emulation("none", rootfs, loader_binds(rootfs, f"/lib/{name}"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    launcher = emulation.launcher(scratch)
    # Only mounts this test could leave: a container engine running beside it (a build) mounts
    # and unmounts its containers' file systems meanwhile.
    def own_mounts() -> set[str]:
        places = (str(tmp_path), "/lib", "/usr/lib")
        return {p for p in mount_points() if p.startswith(places)}

    before = own_mounts()

    def run(*cmd: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(c) for c in cmd], env={}, capture_output=True, text=True, check=False
        )

    with pytest.raises(FileNotFoundError):  # here it has no loader: execve fails with ENOENT
        run(true)
    assert run(*launcher, true).returncode == 0, run(*launcher, true).stderr
    # A grandchild started with an empty environment, by a shell of this machine.
    script = f"exec env -i {true} && exit 9"
    assert run(*launcher, "/bin/sh", "-c", script).returncode == 0
    markers = f"/usr/lib/{multiarch}/marker /lib/{multiarch}/marker"
    inside = run(*launcher, "/bin/sh", "-c", f"cat {markers}; touch {markers}.new 2>&1; env")
    assert inside.stdout.splitlines()[:2] == ["from the rootfs"] * 2
    assert "Read-only file system" in inside.stdout  # the cache cannot be changed from inside
    assert "LC_CTYPE" not in inside.stdout  # the script's interpreter added nothing
    # Nothing stays: no mount, no file on this machine, an empty scratch directory.
    assert own_mounts() == before
    assert not Path(f"/lib/{name}").exists() and not Path(f"/lib/{multiarch}").exists()
    assert list(scratch.iterdir()) == []
    assert not (rootfs / "usr/lib" / multiarch / "marker.new").exists()


@needs_root
def test_a_namespace_that_cannot_be_made_is_one_line_and_status_125(tmp_path):
    emulation = Emulation("none", tmp_path, (Bind("/nonexistent-dir/ld.so", "/x"),))
    result = subprocess.run(
        [*emulation.launcher(tmp_path), "/bin/true"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 125
    assert result.stderr == (
        "loader namespace: this machine has no directory /nonexistent-dir to hold "
        "/nonexistent-dir/ld.so\n"
    )
