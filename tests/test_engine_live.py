"""The private engine against a real dockerd: start, crash, recover (root only, slow).

The test's daemon has its own state directory and exec root, and sees no system socket, so it
runs whether or not the machine has a Docker engine of its own (installing docker.io starts
one) or another build's private engine is running, and it can never stop either: it kills
and stops only the daemon whose pid file is in its own state directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from require_tool import require_tool

from pythonbuild.bench.chroot import mounts_below
from pythonbuild.linux import engine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="a private dockerd needs root"),
]

# The machine's engine (or another build's) owns the default bridge docker0 and the iptables
# chains: the test's daemon gets a bridge of its own and leaves iptables alone. (Not
# --bridge=none: a dockerd started without a bridge deletes docker0, which breaks every
# container of the engine that owns it.) 198.18.0.0/15 is reserved for network tests.
BRIDGE_ADDRESS = "198.18.254.1/24"


@pytest.fixture
def own_engine(monkeypatch) -> Iterator[Path]:
    """A private engine of this test alone (its state directory is returned); stopped and
    removed again even when the test fails."""
    name = f"test-engine-{os.getpid()}"
    state = engine.STATE_DIR.parent / name  # the same file system as the real engine's data
    exec_root = engine.EXEC_ROOT.parent / f"standalone-python-{name}"
    assert not state.exists() and not exec_root.exists(), (state, exec_root)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(engine, "STATE_DIR", state)
    monkeypatch.setattr(engine, "EXEC_ROOT", exec_root)
    monkeypatch.setattr(engine, "SYSTEM_SOCKET", state / "no-system-engine.sock")
    bridge = f"sptest{os.getpid() % 100000}"
    ip = require_tool("ip")
    subprocess.run([ip, "link", "add", bridge, "type", "bridge"], check=True)
    monkeypatch.setattr(
        engine, "DAEMON_OPTIONS", (f"--bridge={bridge}", "--iptables=false", "--ip6tables=false")
    )
    try:
        subprocess.run([ip, "addr", "add", BRIDGE_ADDRESS, "dev", bridge], check=True)
        subprocess.run([ip, "link", "set", bridge, "up"], check=True)
        yield state
    finally:
        # A failed assertion between starting the daemon and closing it must not leave it
        # running; only one this process started is stopped.
        pid = engine._read_pid()
        if pid is not None and engine._pid_alive(pid) and _parent_pid(pid) == os.getpid():
            engine.stop_private_engine()
        pid = engine._read_pid()
        if pid is None or not engine._pid_alive(pid):
            # A killed dockerd leaves its data root mounted (it makes it a mount of its own):
            # unmount that first, or the directory and the mount stay behind on the machine.
            for point in reversed(mounts_below(state)):
                subprocess.run(["umount", "--lazy", point], check=False)
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(exec_root, ignore_errors=True)
            subprocess.run([ip, "link", "del", bridge], check=False)


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state


def test_killed_private_engine_does_not_block_the_next_run(own_engine: Path):
    other_engines_bridge = Path("/sys/class/net/docker0").exists()
    first = engine.connect()
    assert first.private, first.description
    assert str(own_engine) in first.description
    pid = int((own_engine / "dockerd.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    first.process.wait(timeout=30)
    assert (own_engine / "dockerd.pid").exists()  # the crash left its pid file behind
    # The run that started it ends with it: its hold on the engine goes, as when a process exits.
    assert first.users_lock is not None
    os.close(first.users_lock)
    first.users_lock = None
    started = time.monotonic()
    second = engine.connect()
    try:
        assert second.private and second.process is not None
        assert second.client.ping()
        print(f"recovered in {time.monotonic() - started:.1f}s")
    finally:
        second.close()
    assert not (own_engine / "dockerd.pid").exists()
    assert not engine._private_socket().exists()
    # Another engine's containers still have their bridge.
    assert Path("/sys/class/net/docker0").exists() == other_engines_bridge
