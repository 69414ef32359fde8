"""Two builds sharing a cache and needing the same step: one builds it, the other waits."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

from pythonbuild.linux import steps
from pythonbuild.linux.steps import Workspace, run_step


def test_a_step_is_built_once_when_two_builds_need_it(tmp_path: Path, monkeypatch, capsys):
    built: list[int] = []

    def slow_build(engine, plan, step, tarball, workspace, artifact: Path, build_tarballs) -> None:
        built.append(threading.get_ident())
        time.sleep(0.5)  # the other build asks for the step meanwhile
        artifact.write_bytes(b"artifact")

    monkeypatch.setattr(steps, "_build_step", slow_build)
    step = SimpleNamespace(
        name="tcl", artifact_name="tcl-8.6.18-0123.tar", source=SimpleNamespace(version="8.6.18")
    )
    workspace = Workspace(cache_dir=tmp_path, log_dir=tmp_path / "logs", jobs=2)
    results: list[Path] = []

    def build() -> None:
        results.append(run_step(None, None, step, tmp_path / "src.tar", workspace))  # type: ignore[arg-type]

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=10)
    assert len(built) == 1
    assert results == [workspace.artifacts / step.artifact_name] * 2
    out = capsys.readouterr().out + capsys.readouterr().err
    assert "another build using this cache is making it" in out
    assert "cached (tcl-8.6.18-0123.tar)" in out
    assert sorted(p.name for p in workspace.artifacts.iterdir()) == [".locks", step.artifact_name]
