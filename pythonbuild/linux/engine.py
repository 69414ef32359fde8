"""The container engine: one place that finds, starts and talks to Docker.

Order of preference:
1. an engine the environment points at (``DOCKER_HOST``) or the system socket;
2. our private ``dockerd`` from an earlier run, if it still answers;
3. as root, a new private ``dockerd`` with its own state under ``/var/lib/standalone-python``
   (installing Debian's ``docker.io`` first when no ``dockerd`` exists), stopped again when
   the last run using it ends unless asked to keep it.

Several runs may use the private daemon at once (two builds, a build and a test run): each holds
a shared lock on ``users.lock`` in its state directory while connected. A run stops the daemon
only when it can take that lock exclusively, so never under another run; if others still use
it, the last of them stops it (``started-by-a-run`` says a run started it, as opposed to a
daemon kept with ``--keep-engine``, which no later run stops).

A crashed private daemon leaves a pid file, sockets and containerd state behind; before starting
we check the pid is really gone and clear those, so a crash never blocks the next run.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from .. import log
from ..errors import BuildError
from .host_tools import ensure_host_tool

STATE_DIR = Path(
    os.environ.get("STANDALONE_PYTHON_ENGINE_DIR", "/var/lib/standalone-python/engine")
)
EXEC_ROOT = Path("/run/standalone-python-engine")
SYSTEM_SOCKET = Path("/var/run/docker.sock")
SYSTEM_DATA_ROOT = Path("/var/lib/docker")  # Docker's default --data-root
START_TIMEOUT = 90
# More dockerd options for the private daemon. tests/test_engine_live.py runs one beside the
# machine's own engine and gives it a bridge of its own and no iptables rules, since docker0 and
# the iptables chains belong to that one.
DAEMON_OPTIONS: tuple[str, ...] = ()


@dataclass
class Engine:
    client: docker.DockerClient
    description: str
    private: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)
    # The shared lock on users.lock this run holds while it uses the private daemon.
    users_lock: int | None = field(default=None, repr=False)

    def close(self, keep: bool = False) -> None:
        """Let go of the engine. A private daemon a run started is stopped by the last run
        using it, unless ``keep`` (then it stays running, also after later runs)."""
        self.client.close()
        lock, self.users_lock = self.users_lock, None
        try:
            if self.private:
                self._stop_if_last(keep, lock)
        finally:
            if lock is not None:
                os.close(lock)  # drops the lock

    def _stop_if_last(self, keep: bool, lock: int | None) -> None:
        if keep:
            if self.process is not None:  # kept on purpose: no later run stops it either
                _started_marker().unlink(missing_ok=True)
            return
        if self.process is None and not _started_marker().exists():
            return  # started by hand, or kept by an earlier run
        if lock is not None and not _only_user(lock):
            log.info("left the private dockerd running: another run is using it and stops it")
            return
        stop_private_engine()
        _started_marker().unlink(missing_ok=True)
        if self.process is not None:
            self.process.wait(timeout=30)  # reap it: no zombie for the rest of this process


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--no-private-engine`` and ``--keep-engine``, for every command that runs containers."""
    parser.add_argument("--no-private-engine", action="store_true",
                        help="never start a private dockerd; fail with an explanation instead")  # fmt: skip
    parser.add_argument("--keep-engine", action="store_true",
                        help="leave a private dockerd started by this run running for the next one")  # fmt: skip


def expected_data_root() -> Path | None:
    """Where the engine ``connect`` would pick keeps images and containers, found without it.

    The same order as ``connect``: None for ``DOCKER_HOST`` (perhaps another machine's);
    Docker's default data root when the system socket exists (a data-root configured elsewhere
    is not seen); otherwise the private engine's. The free-space check reads this.
    """
    if os.environ.get("DOCKER_HOST"):
        return None
    if SYSTEM_SOCKET.exists():
        return SYSTEM_DATA_ROOT
    return STATE_DIR / "data"


def image_tags_in(data_root: Path) -> set[str] | None:
    """The image tags a data root records (``image/<driver>/repositories.json``), read from the
    files without the engine; None when none can be read (no engine there yet, not root, or the
    containerd image store, which keeps no such file)."""
    tags: set[str] = set()
    found = False
    try:
        files = sorted(data_root.glob("image/*/repositories.json"))
    except OSError:
        return None
    for path in files:
        try:
            repositories = json.loads(path.read_text()).get("Repositories") or {}
            tags.update(ref for refs in repositories.values() for ref in refs)
        except (OSError, ValueError, AttributeError, TypeError):
            continue
        found = True
    return tags if found else None


def _try_client(base_url: str | None) -> docker.DockerClient | None:
    try:
        client = (
            docker.DockerClient(base_url=base_url, timeout=600)
            if base_url
            else docker.from_env(timeout=600)
        )
        client.ping()
        return client
    except (docker.errors.DockerException, OSError):
        return None


def _private_socket() -> Path:
    return STATE_DIR / "docker.sock"


def _started_marker() -> Path:
    return STATE_DIR / "started-by-a-run"


def hold_users_lock() -> int | None:
    """A shared lock on the private daemon's ``users.lock`` (None where it cannot be made, as
    a user who may not write the state directory, who cannot start or stop the daemon either).
    Waits while a run holding it exclusively is stopping the daemon."""
    try:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(STATE_DIR / "users.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _only_user(lock: int) -> bool:
    """Whether this run is the only one holding ``users.lock``: then it keeps it exclusively
    (a run connecting meanwhile waits, and then finds the daemon stopped)."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie or a recycled pid of another program does not count as our daemon.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"dockerd" in cmdline and str(STATE_DIR).encode() in cmdline


def _read_pid() -> int | None:
    try:
        return int((STATE_DIR / "dockerd.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def clear_stale_state() -> bool:
    """Remove what a dead private daemon left behind. Returns True if anything was removed."""
    pid = _read_pid()
    if pid is not None and _pid_alive(pid):
        return False
    removed = False
    for leftover in (STATE_DIR / "dockerd.pid", _private_socket()):
        if leftover.exists() or leftover.is_symlink():
            leftover.unlink()
            removed = True
    if EXEC_ROOT.exists():
        # containerd's sockets and shims of the dead daemon; nothing here survives a restart.
        shutil.rmtree(EXEC_ROOT, ignore_errors=True)
        removed = True
    return removed


def start_private_engine() -> Engine:
    if os.geteuid() != 0:
        raise BuildError(
            "no container engine is reachable and a private one needs root; "
            "start Docker (or set DOCKER_HOST) or rerun as root"
        )
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    if clear_stale_state():
        log.info("cleared state left by a private engine that is no longer running")
    dockerd = ensure_host_tool("dockerd", STATE_DIR / "apt-install.log")
    socket = _private_socket()
    logfile = STATE_DIR / "dockerd.log"
    cmd = [
        dockerd,
        "--data-root", str(STATE_DIR / "data"),
        "--exec-root", str(EXEC_ROOT),
        "--pidfile", str(STATE_DIR / "dockerd.pid"),
        "-H", f"unix://{socket}",
        *DAEMON_OPTIONS,
    ]  # fmt: skip
    log.info(f"no container engine is running: starting a private dockerd (state in {STATE_DIR})")
    with logfile.open("ab") as out:
        process = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise log.LoggedFailure(f"dockerd exited with status {process.returncode}", logfile)
        client = _try_client(f"unix://{socket}")
        if client is not None:
            return Engine(client, f"private dockerd ({socket})", private=True, process=process)
        time.sleep(0.5)
    process.terminate()
    raise log.LoggedFailure(f"dockerd did not answer within {START_TIMEOUT}s", logfile)


def stop_private_engine(timeout: float = 30) -> None:
    pid = _read_pid()
    if pid is None or not _pid_alive(pid):
        clear_stale_state()
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.2)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
    clear_stale_state()
    log.info("stopped the private dockerd")


def connect(allow_private: bool = True) -> Engine:
    """Return a working engine or raise a BuildError that says how to get one."""
    if os.environ.get("DOCKER_HOST"):
        client = _try_client(None)
        if client is None:
            raise BuildError(
                f"DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer; start that engine or unset DOCKER_HOST"
            )
        return Engine(client, f"DOCKER_HOST={os.environ['DOCKER_HOST']}")
    if SYSTEM_SOCKET.exists():
        client = _try_client(f"unix://{SYSTEM_SOCKET}")
        if client is not None:
            return Engine(client, f"system docker ({SYSTEM_SOCKET})")
    # Taken before looking: a run stopping the daemon finishes first, and none starts stopping
    # it while this one connects.
    lock = hold_users_lock()
    try:
        engine = _connect_private(allow_private)
    except BaseException:
        if lock is not None:
            os.close(lock)
        raise
    engine.users_lock = lock
    return engine


def _connect_private(allow_private: bool) -> Engine:
    if _private_socket().exists():
        client = _try_client(f"unix://{_private_socket()}")
        if client is not None:
            return Engine(
                client, f"private dockerd ({_private_socket()}), already running", private=True
            )
    if not allow_private:
        raise BuildError(
            "no container engine is reachable (no DOCKER_HOST, nothing answers on "
            f"{SYSTEM_SOCKET}); start Docker, or drop --no-private-engine to let the build "
            "start its own dockerd as root"
        )
    engine = start_private_engine()
    _started_marker().write_text("a run started this dockerd; the last run using it stops it\n")
    return engine
