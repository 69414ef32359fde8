"""Run one build step in a fresh container: copy inputs in, run a script, copy ``/out`` back.

Inputs and outputs travel as tar streams through the engine API (no bind mounts), so the same
code works with a local private daemon or a remote engine.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from .. import log
from .engine import Engine


@dataclass
class ContainerRun:
    """A script to run in ``image`` with files placed at absolute container paths."""

    image: str
    command: list[str]
    env: dict[str, str]
    files: dict[str, Path | bytes] = field(default_factory=dict)  # container path -> content
    tarballs: list[Path] = field(default_factory=list)  # tar files extracted at /
    workdir: str = "/"


def _input_tar(files: dict[str, Path | bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dest, content in sorted(files.items()):
            name = dest.lstrip("/")
            if isinstance(content, Path):
                info = tar.gettarinfo(str(content), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with content.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                info.mode = 0o755 if dest.endswith(".sh") else 0o644
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def run_in_container(
    engine: Engine, run: ContainerRun, logfile: Path, what: str, out_tar: Path
) -> None:
    """Run ``run``; stream its output to ``logfile``; write the ``/out`` tar stream to ``out_tar``.

    Raises LoggedFailure (with the log's tail) when the command exits non-zero.
    """
    client = engine.client
    logfile.parent.mkdir(parents=True, exist_ok=True)
    container = client.containers.create(
        run.image, command=run.command, environment=run.env, working_dir=run.workdir, detach=True
    )
    try:
        for tarball in run.tarballs:
            with tarball.open("rb") as handle:
                container.put_archive("/", handle.read())
        if run.files:
            container.put_archive("/", _input_tar(run.files))
        started = time.monotonic()
        container.start()
        with logfile.open("wb") as out:
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                out.write(chunk)
        status = container.wait()
        code = status.get("StatusCode", 1)
        with logfile.open("a") as out:
            out.write(
                f"\n[exit status {code} after {log.format_seconds(time.monotonic() - started)}]\n"
            )
        if code != 0:
            raise log.LoggedFailure(f"{what} failed with exit status {code}", logfile)
        chunks, _stat = container.get_archive("/out")
        with out_tar.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
    except docker.errors.APIError as exc:
        with logfile.open("a") as out:
            out.write(f"\nengine error: {exc}\n")
        raise log.LoggedFailure(f"{what}: container engine error", logfile) from None
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)


def save_out_tree(out_tar: Path, dest: Path, strip: str = "out/") -> None:
    """Write the ``/out`` archive as a tar whose names drop the leading ``out/``, sorted.

    Written to a temporary name first so an interrupted run never leaves a partial artifact.
    """
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    contents: dict[str, bytes] = {}
    with tarfile.open(out_tar, mode="r|") as raw:
        for member in raw:
            if not member.name.startswith(strip):
                continue
            original = member.name
            member.name = member.name[len(strip) :]
            if member.islnk():
                # Sorting may put a hard link before its target: store it as a plain copy.
                data = contents[member.linkname]
                member.type, member.linkname, member.size = tarfile.REGTYPE, "", len(data)
            elif member.isfile():
                data = raw.extractfile(member).read()  # type: ignore[union-attr]
                contents[original] = data
            else:
                data = None
            members.append((member, data))
    members.sort(key=lambda item: item[0].name)
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.partial")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
            for member, data in members:
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                out.addfile(member, io.BytesIO(data) if data is not None else None)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
