"""The private engine against a real dockerd: start, crash, recover (root only, slow)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pythonbuild import engine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="a private dockerd needs root"),
]


@pytest.fixture
def no_other_engine(monkeypatch) -> Iterator[None]:
    """No engine but the one the test starts; stopped again even when the test fails."""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    if engine.SYSTEM_SOCKET.exists() and engine._try_client(f"unix://{engine.SYSTEM_SOCKET}"):
        pytest.skip("a system Docker engine is running; the private engine would not be used")
    if engine._private_socket().exists() and engine._try_client(
        f"unix://{engine._private_socket()}"
    ):
        pytest.skip("another build's private engine is running; killing it would break that build")
    yield
    # A failed assertion between starting a private dockerd and closing it must not leave it
    # running; only one this process started is stopped (never another build's).
    pid = engine._read_pid()
    if pid is not None and engine._pid_alive(pid) and _parent_pid(pid) == os.getpid():
        engine.stop_private_engine()


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state


def test_killed_private_engine_does_not_block_the_next_run(no_other_engine):
    first = engine.connect()
    assert first.private
    pid = int((engine.STATE_DIR / "dockerd.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    first.process.wait(timeout=30)
    assert (engine.STATE_DIR / "dockerd.pid").exists()  # the crash left its pid file behind
    started = time.monotonic()
    second = engine.connect()
    try:
        assert second.private and second.process is not None
        assert second.client.ping()
        print(f"recovered in {time.monotonic() - started:.1f}s")
    finally:
        second.close()
    assert not (engine.STATE_DIR / "dockerd.pid").exists()
    assert not engine._private_socket().exists()
