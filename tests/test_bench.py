"""Fast tests of the bench command: parsing, naming, maths, reports. No network, no building."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pythonbuild.bench import benchmarks as bm
from pythonbuild.bench import cli, interpreters, report, results, runner
from pythonbuild.bench.chroot import mounts_below
from pythonbuild.errors import BuildError, UsageError
from pythonbuild.paths import ROOT

# ---------------------------------------------------------------------------------------------
# Labels and names


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("debian-3.13=/usr/bin/python3.13", ("debian-3.13", "/usr/bin/python3.13")),
        ("3.13.15-pgo+lto=dist/x.tar.zst", ("3.13.15-pgo+lto", "dist/x.tar.zst")),
        ("/usr/bin/python3.13", (None, "/usr/bin/python3.13")),
        ("/odd/dir=with/equals", (None, "/odd/dir=with/equals")),
        ("relative=dir/python", ("relative", "dir/python")),
    ],
)
def test_split_label(value: str, expected: tuple[str | None, str]) -> None:
    assert interpreters.split_label(value) == expected


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst", "3.13.15-pgo+lto"),
        ("cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-noopt-full.tar.zst", "3.13.15-noopt"),
        ("cpython-3.14.0rc1+20250101-x86_64_v3-unknown-linux-musl-freethreaded+pgo+lto-full.tar.zst",
         "3.14.0rc1-freethreaded+pgo+lto"),
        ("cpython-3.12.7+20241016-aarch64-apple-darwin-debug-full.tar.zst", "3.12.7-debug"),
        ("cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-install_only.tar.gz",
         "3.13.15-pgo+lto"),
        ("cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
         "3.13.15-pgo+lto"),
        ("cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-freethreaded-install_only.tar.gz",
         "3.13.15-freethreaded+pgo+lto"),
        ("cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-noopt-install_only.tar.gz",
         "3.13.15-noopt"),
        ("cpython-3.13.15+20261121-x86_64_v3-unknown-linux-gnu-freethreaded+debug-install_only.tar.gz",
         "3.13.15-freethreaded+debug"),
        ("cpython-3.13.15-x86_64-unknown-linux-gnu-lto-full.tar.zst", "3.13.15-lto"),
        ("python-3.13.tar.gz", None),
        ("cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-noopt-full.zip", None),
    ],
)  # fmt: skip
def test_label_from_archive_name(name: str, label: str | None) -> None:
    assert interpreters.label_from_archive_name(name) == label


def test_label_from_directory_prefers_python_json(tmp_path: Path) -> None:
    dist = tmp_path / "somewhere"
    (dist / "python").mkdir(parents=True)
    assert interpreters.label_from_directory(dist) == "somewhere"
    (dist / "python" / "PYTHON.json").write_text(
        json.dumps({"python_version": "3.13.15", "build_options": "pgo+lto"})
    )
    assert interpreters.label_from_directory(dist) == "3.13.15-pgo+lto"


def test_find_distribution_python_in_both_layouts(tmp_path: Path) -> None:
    full = tmp_path / "full"
    (full / "python/install/bin").mkdir(parents=True)
    (full / "python/install/bin/python3").write_text("")
    only = tmp_path / "only"
    (only / "python/bin").mkdir(parents=True)
    (only / "python/bin/python3").write_text("")
    assert interpreters.find_distribution_python(full) == full / "python/install/bin/python3"
    assert interpreters.find_distribution_python(only) == only / "python/bin/python3"
    assert interpreters.find_distribution_python(tmp_path) is None


# ---------------------------------------------------------------------------------------------
# Command line


def test_parse_args_keeps_order_and_labels(tmp_path: Path) -> None:
    config = cli.parse_args(
        ["--python", "ref=/usr/bin/python3", "--dist", "dist/a-full.tar.zst",
         "--python", "/x/python3", "--chroot", f"ref={tmp_path}", "--fast"]
    )  # fmt: skip
    assert [(r.kind, r.label) for r in config.requests] == [
        ("python", "ref"), ("dist", None), ("python", None)
    ]  # fmt: skip
    assert config.chroots == {"ref": tmp_path}
    assert config.settings == cli.FAST_SETTINGS
    assert config.selection == bm.DEFAULT_SELECTION


def test_parse_args_rejects_bad_input() -> None:
    with pytest.raises(UsageError, match="no --python is labelled 'deb'"):
        cli.parse_args(["--python", "/usr/bin/python3", "--chroot", "deb=/srv/deb"])
    with pytest.raises(UsageError, match="at least one interpreter"):
        cli.parse_args([])
    with pytest.raises(UsageError, match="--rounds must be at least 1"):
        cli.parse_args(["--python", "/usr/bin/python3", "--rounds", "0"])


def test_settings_overrides_apply_on_top_of_fast() -> None:
    config = cli.parse_args(["--python", "/usr/bin/python3", "--fast", "--rounds", "3"])
    assert config.settings.rounds == 3
    assert config.settings.processes == cli.FAST_SETTINGS.processes


def test_check_request_names_the_problem(tmp_path: Path) -> None:
    missing = interpreters.InterpreterRequest("python", "x", tmp_path / "nope")
    with pytest.raises(UsageError, match="no such interpreter"):
        interpreters.check_request(missing, None)
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("")
    with pytest.raises(UsageError, match="not a distribution archive"):
        interpreters.check_request(interpreters.InterpreterRequest("dist", None, not_archive), None)
    with pytest.raises(UsageError, match="not an extracted distribution"):
        interpreters.check_request(interpreters.InterpreterRequest("dist", None, tmp_path), None)
    in_chroot = interpreters.InterpreterRequest("python", "deb", Path("/usr/bin/python3.13"))
    with pytest.raises(UsageError, match=r"has no /usr/bin/python3\.13"):
        interpreters.check_request(in_chroot, tmp_path)
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/python3.13").symlink_to("python3.13-real")  # may dangle outside
    interpreters.check_request(in_chroot, tmp_path)


def test_child_env_drops_the_drivers_python_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/work/main")
    monkeypatch.setenv("STANDALONE_PYTHON_BOOTSTRAPPED", "x")
    monkeypatch.setenv("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    env = cli.child_env()
    assert "PYTHONPATH" not in env and "STANDALONE_PYTHON_BOOTSTRAPPED" not in env
    assert env["PIP_CERT"] == "/etc/ssl/certs/ca-certificates.crt"


def test_subcommand_usage_needs_no_venv() -> None:
    result = subprocess.run([sys.executable, "-m", "pythonbuild"], cwd=ROOT, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 2
    assert "bench" in result.stdout and "debian-python" in result.stdout
    result = subprocess.run([sys.executable, "-m", "pythonbuild", "nope"], cwd=ROOT,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 2 and "unknown subcommand 'nope'" in result.stderr


# ---------------------------------------------------------------------------------------------
# Benchmark catalog

MANIFEST = """\
[benchmarks]

name\tmetafile
nbody\t<local>
pickle\t<local>
pickle_pure_python\t<local:pickle>
# commented\t<local>

[group default]
[group math]
"""


def _fake_pyperformance(root: Path) -> Path:
    data = root / "benchmarks"
    for name in ("nbody", "pickle"):
        (data / f"bm_{name}").mkdir(parents=True)
        (data / f"bm_{name}" / "run_benchmark.py").write_text("")
    (data / "MANIFEST").write_text(MANIFEST)
    (data / "bm_nbody" / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.8"\n[tool.pyperformance]\nname = "nbody"\n'
    )
    (data / "bm_pickle" / "pyproject.toml").write_text(
        '[tool.pyperformance]\nname = "pickle"\nextra_opts = ["pickle"]\n'
    )
    (data / "bm_pickle" / "bm_pickle_pure_python.toml").write_text(
        '[project]\nrequires-python = ">=3.12"\n[tool.pyperformance]\n'
        'extra_opts = ["--pure-python", "pickle"]\n'
    )
    (data / "bm_pickle" / "requirements.txt").write_text("six==1.16.0\n")
    return data


def _fake_catalog_file(root: Path, groups: str) -> Path:
    path = root / "benchmarks.toml"
    path.write_text(
        '[pins]\npyperformance = "1.14.0"\npyperf = "2.10.0"\n'
        f"[groups]\n{groups}\n"
        '[custom.stdlib_zlib]\nscript = "bm_stdlib_c/run_benchmark.py"\nargs = ["zlib"]\n'
    )
    return path


def test_parse_manifest_reads_only_the_benchmarks_table() -> None:
    assert bm.parse_manifest(MANIFEST) == {
        "nbody": "<local>",
        "pickle": "<local>",
        "pickle_pure_python": "<local:pickle>",
    }


def test_catalog_resolves_variants_groups_and_custom_scripts(tmp_path: Path) -> None:
    data = _fake_pyperformance(tmp_path)
    catalog_file = _fake_catalog_file(
        tmp_path, 'default = ["nbody", "c"]\nc = ["stdlib_zlib", "nbody"]'
    )
    catalog = bm.load_catalog(data, catalog_file)
    variant = catalog.benchmarks["pickle_pure_python"]
    assert variant.source_dir == data / "bm_pickle"
    assert variant.args == ("--pure-python", "pickle")
    assert variant.requirements == data / "bm_pickle" / "requirements.txt"
    assert variant.requires_python == ">=3.12"
    custom = catalog.benchmarks["stdlib_zlib"]
    assert custom.origin == "custom" and custom.args == ("zlib",)
    # Nested groups expand in order, each benchmark once.
    assert [b.name for b in catalog.select("default")] == ["nbody", "stdlib_zlib"]
    assert [b.name for b in catalog.select("pickle, c")] == ["pickle", "stdlib_zlib", "nbody"]
    with pytest.raises(UsageError, match="unknown benchmark 'nbodyy'"):
        catalog.select("nbodyy")
    # A group inside the selection gets a geometric mean of its own, and so does the rest.
    selected = catalog.select("pickle,nbody,stdlib_zlib")
    assert catalog.parts(selected) == {
        "c": ("nbody", "stdlib_zlib"),
        "without c": ("pickle",),
        "default": ("nbody", "stdlib_zlib"),
        "without default": ("pickle",),
    }
    assert catalog.parts(catalog.select("default")) == {}  # c is all of default: no part
    with pytest.raises(UsageError, match="empty"):
        catalog.select(" , ")


def test_catalog_rejects_groups_naming_unknown_benchmarks(tmp_path: Path) -> None:
    data = _fake_pyperformance(tmp_path)
    catalog = bm.load_catalog(data, _fake_catalog_file(tmp_path, 'default = ["richards"]'))
    with pytest.raises(BuildError, match="group 'default' names 'richards'"):
        catalog.select("default")


def test_stage_scripts_copies_into_the_run(tmp_path: Path) -> None:
    data = _fake_pyperformance(tmp_path)
    catalog = bm.load_catalog(data, _fake_catalog_file(tmp_path, 'default = ["nbody"]'))
    staged = bm.stage_scripts(catalog.select("pickle,pickle_pure_python"), tmp_path / "scripts")
    assert staged[0].script == tmp_path / "scripts/pyperformance/bm_pickle/run_benchmark.py"
    assert staged[1].requirements == tmp_path / "scripts/pyperformance/bm_pickle/requirements.txt"
    assert staged[1].requirements.read_text() == "six==1.16.0\n"


def test_python_supports() -> None:
    assert bm.python_supports(None, "3.9.0")
    assert bm.python_supports(">=3.12", "3.13.0")
    assert not bm.python_supports(">=3.14", "3.13.15")
    assert bm.python_supports(">=3.14", "3.14.0")


def test_project_catalog_pins_match_requirements_bench() -> None:
    catalog = bm.tomllib.loads(bm.CATALOG_FILE.read_text())
    pinned = dict(
        re.findall(r"^(pyperformance|pyperf)==(\S+)", (ROOT / "requirements-bench.txt").read_text(),
                   re.MULTILINE)
    )  # fmt: skip
    assert pinned == catalog["pins"]
    default = catalog["groups"]["default"]
    assert 15 <= len(default) <= 30
    assert "stdlib-c" in default


def test_project_default_set_exists_in_pinned_pyperformance() -> None:
    # pyperformance is a dev requirement (requirements-dev.txt): its absence fails here.
    catalog = bm.load_catalog(bm.installed_pyperformance_data())
    chosen = catalog.select("default")
    assert all(b.requirements is None for b in chosen), "the default set must install no packages"


# ---------------------------------------------------------------------------------------------
# pyperf results and the maths


def _pyperf_json(path: Path, benches: dict[str, list[list[float]]], *, suite_name: bool) -> Path:
    """A pyperf 1.0 file: one calibration run, then runs of values, per benchmark."""
    benchmarks = []
    for name, runs in benches.items():
        bench: dict = {
            "runs": [{"metadata": {"loops": 8}, "warmups": [[1, 0.5], [8, 0.4]]}]
            + [{"metadata": {"loops": 8}, "warmups": [[8, 0.41]], "values": run} for run in runs]
        }
        if not suite_name:
            bench["metadata"] = {"name": name}
        benchmarks.append(bench)
    metadata = {"unit": "second", "python_version": "3.13.0"}
    if suite_name:
        (only,) = benches
        metadata["name"] = only
    path.write_text(json.dumps({"version": "1.0", "metadata": metadata, "benchmarks": benchmarks}))
    return path


def test_read_pyperf_file_merges_metadata_and_skips_calibration(tmp_path: Path) -> None:
    single = _pyperf_json(tmp_path / "a.json", {"nbody": [[1.0, 2.0], [3.0]]}, suite_name=True)
    (found,) = results.read_pyperf_file(single)
    assert found.name == "nbody"
    assert found.values == (1.0, 2.0, 3.0)
    assert found.mean == 2.0 and found.stdev == 1.0
    assert found.loops == 8 and found.unit == "second"
    multi = _pyperf_json(tmp_path / "b.json", {"x": [[1.0]], "y": [[2.0]]}, suite_name=False)
    assert [m.name for m in results.read_pyperf_file(multi)] == ["x", "y"]
    assert results.read_pyperf_file(multi)[0].stdev is None
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(BuildError, match="cannot read pyperf results"):
        results.read_pyperf_file(tmp_path / "bad.json")


def test_read_pyperf_file_agrees_with_pyperf(tmp_path: Path) -> None:
    import pyperf  # a dev requirement, like matplotlib below

    path = _pyperf_json(tmp_path / "a.json", {"nbody": [[1.0, 2.0], [4.0]]}, suite_name=True)
    (ours,) = results.read_pyperf_file(path)
    theirs = pyperf.BenchmarkSuite.load(str(path)).get_benchmark("nbody")
    assert math.isclose(ours.mean, theirs.mean()) and math.isclose(ours.stdev, theirs.stdev())


def _m(name: str, *values: float) -> results.Measurement:
    return results.Measurement(name, tuple(values))


def _summary() -> results.Summary:
    return results.Summary(
        labels=["base", "fast", "slow"],
        baseline="base",
        rows=["a", "b", "c"],
        measurements={
            "a": {"base": _m("a", 2.0, 2.0), "fast": _m("a", 1.0, 1.0), "slow": _m("a", 4.0)},
            "b": {"base": _m("b", 1.0), "fast": _m("b", 0.5), "slow": _m("b", 1.0)},
            "c": {"base": _m("c", 1.0), "slow": _m("c", 1.0)},  # failed on "fast"
        },
        missing={"c": {"fast": "failed: exit 1: boom"}},
    )


def test_ratios_and_geometric_means_leave_out_incomplete_benchmarks() -> None:
    summary = _summary()
    assert summary.ratio("a", "fast") == 2.0  # half the time: twice as fast
    assert summary.ratio("a", "slow") == 0.5
    assert summary.ratio("c", "fast") is None
    assert summary.complete_rows == ["a", "b"]
    assert summary.incomplete_rows == ["c"]
    assert math.isclose(summary.geometric_mean("fast"), 2.0)
    assert math.isclose(summary.geometric_mean("slow"), math.sqrt(0.5))  # c is left out for all
    assert summary.geometric_mean("base") == 1.0
    assert summary.missing_word("c", "fast") == "failed"
    assert results.geometric_mean([]) is None


def test_summarize_from_outcomes(tmp_path: Path) -> None:
    def outcome(label: str, name: str, status: str, runs: dict | None = None) -> runner.Outcome:
        result = tmp_path / f"{label}-{name}.json"
        if runs:
            _pyperf_json(result, runs, suite_name=len(runs) == 1)
        return runner.Outcome(result, tmp_path / "x.log", status, "" if runs else "why")

    outcomes = {
        ("base", "deepcopy"): outcome("base", "deepcopy", "ok",
                                      {"deepcopy": [[2.0]], "deepcopy_memo": [[4.0]]}),
        ("new", "deepcopy"): outcome("new", "deepcopy", "ok",
                                     {"deepcopy": [[1.0]], "deepcopy_memo": [[4.0]]}),
        ("base", "stdlib_zstd"): outcome("base", "stdlib_zstd", "unavailable"),
        ("new", "stdlib_zstd"): outcome("new", "stdlib_zstd", "ok", {"stdlib_zstd": [[1.0]]}),
    }  # fmt: skip
    parts = {"copying": ("deepcopy",), "compression": ("stdlib_zstd",)}
    summary = report.summarize(["base", "new"], "base", ["deepcopy", "stdlib_zstd"], outcomes,
                               parts)  # fmt: skip
    assert summary.rows == ["deepcopy", "deepcopy_memo", "stdlib_zstd"]
    assert summary.complete_rows == ["deepcopy", "deepcopy_memo"]
    assert math.isclose(summary.geometric_mean("new"), math.sqrt(2.0))
    table = report.format_table(summary)
    assert "geometric mean (2 benchmarks)" in table and "1.41x" in table
    # deepcopy's two rows are the part "copying"; zstd, missing on base, leaves "compression" empty
    assert re.search(r"^geometric mean, copying \(2\)\s+1\.41x$", table, re.MULTILINE)
    assert re.search(r"^geometric mean, compression \(0\)\s+n/a$", table, re.MULTILINE)
    assert "stdlib_zstd (base: unavailable: why)" in table
    assert re.search(r"^stdlib_zstd\s+n/a\s+1 s$", table, re.MULTILINE)
    document = report.bench_document(summary, interpreters=[], settings={}, started="s",
                                     finished="f", raw_results={})  # fmt: skip
    assert document["benchmarks"]["deepcopy"]["new"]["ratio_to_baseline"] == 2.0
    assert document["benchmarks"]["stdlib_zstd"]["base"] == {"missing": "unavailable: why"}
    assert document["left_out_of_geometric_mean"] == {"stdlib_zstd": {"base": "unavailable: why"}}
    copying = document["geometric_mean_of_parts"]["copying"]
    assert copying["benchmarks"] == ["deepcopy", "deepcopy_memo"]
    assert math.isclose(copying["geometric_mean"]["new"], math.sqrt(2.0))
    json.dumps(document)  # serialisable as it is


def test_format_value_picks_a_readable_unit() -> None:
    assert report.format_value(0.0712, "second") == "71.2 ms"
    assert report.format_value(3.2e-8, "second") == "32 ns"
    assert report.format_value(1.5, "second") == "1.5 s"
    assert report.format_value(1024, "byte") == "1024 byte"


# ---------------------------------------------------------------------------------------------
# Running


def test_rotation_spreads_positions() -> None:
    assert runner.rotated(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert runner.rotated(["a", "b", "c"], 4) == ["b", "c", "a"]
    assert runner.rotated([], 3) == []


def test_pyperf_command_in_chroot_with_fixed_loops(tmp_path: Path) -> None:
    interp = interpreters.Interpreter("deb", "python", Path("/usr/bin/python3.13"),
                                      Path("/usr/bin/python3.13"), chroot=Path("/srv/deb"))  # fmt: skip
    contender = runner.Contender(interp, tmp_path / "venv/bin/python")
    benchmark = bm.Benchmark("pickle_pure_python", "pyperformance", tmp_path, "run_benchmark.py",
                             ("--pure-python", "pickle"))  # fmt: skip
    staged = bm.StagedBenchmark(benchmark, tmp_path / "run_benchmark.py", None)
    outcome = runner.Outcome(tmp_path / "r.json", tmp_path / "r.log", loops=16)
    cmd = runner.pyperf_command(contender, staged, runner.RunSettings(3, 2, 3, 1), outcome)
    assert cmd[:4] == ["chroot", "/srv/deb", str(tmp_path / "venv/bin/python"),
                       str(tmp_path / "run_benchmark.py")]  # fmt: skip
    assert cmd[4:] == ["--pure-python", "pickle", "--processes", "2", "--values", "3",
                       "--warmups", "1", "--loops", "16", "--append", str(tmp_path / "r.json")]  # fmt: skip


def test_mounts_below(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    inside = str(tmp_path / "root/proc")
    monkeypatch.setattr("pythonbuild.bench.chroot.mount_points",
                        lambda: {"/", inside, str(tmp_path) + "-other"})  # fmt: skip
    assert mounts_below(tmp_path) == [inside]


# ---------------------------------------------------------------------------------------------
# Outputs


def test_output_dir_is_written_all_or_nothing(tmp_path: Path) -> None:
    output = tmp_path / "out"

    def fail(staging: Path) -> None:
        (staging / "bench.json").write_text("{}")
        raise RuntimeError("chart failed")

    with pytest.raises(RuntimeError):
        report.write_output_dir(output, fail)
    assert list(tmp_path.iterdir()) == []
    report.write_output_dir(output, lambda staging: (staging / "bench.json").write_text("{}"))
    assert [p.name for p in output.iterdir()] == ["bench.json"]
    with pytest.raises(BuildError, match="not empty"):
        report.write_output_dir(output, lambda staging: None)


def test_chart_is_written(tmp_path: Path) -> None:
    from pythonbuild.bench.chart import write_chart

    path = tmp_path / "bench.png"
    write_chart(_summary(), path, title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# The stdlib-c script


def _stdlib_c_module():  # type: ignore[no-untyped-def]
    path = bm.BENCH_RESOURCES / "bm_stdlib_c" / "run_benchmark.py"
    spec = importlib.util.spec_from_file_location("bm_stdlib_c", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stdlib_c_inputs_are_deterministic_and_work() -> None:
    module = _stdlib_c_module()
    text = module.mixed_text(module.TEXT_SIZE)
    assert len(text) == 1 << 20 and text == module.mixed_text(module.TEXT_SIZE)
    import zlib

    assert 2 < len(text) / len(zlib.compress(text)) < 10  # text, neither random nor trivial
    module.compression_roundtrip(zlib, text[:4096])()
    module.sqlite_workload()()


def test_catalog_file_groups_name_known_custom_benchmarks() -> None:
    catalog = bm.tomllib.loads(bm.CATALOG_FILE.read_text())
    for name, entry in catalog["custom"].items():
        assert (bm.BENCH_RESOURCES / entry["script"]).is_file(), name
    assert set(catalog["groups"]["stdlib-c"]) == set(catalog["custom"])


def test_archives_with_the_same_name_are_extracted_apart(tmp_path: Path) -> None:
    """Two builds' archives share a name (say, pgo+lto with and without BOLT): benchmarking
    both must not run one of them twice."""
    import io
    import tarfile

    name = "cpython-3.13.15+20261122-x86_64-unknown-linux-gnu-install_only.tar.gz"
    archives = []
    for which in ("with-bolt", "without-bolt"):
        path = tmp_path / which / name
        path.parent.mkdir()
        with tarfile.open(path, "w:gz") as tar:
            data = f"#!/bin/sh\necho {which}\n".encode()
            info = tarfile.TarInfo("python/bin/python3")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        archives.append(path)
    dists = tmp_path / "dists"
    first, second = (interpreters.extract_distribution(a, dists) for a in archives)
    assert first != second
    assert b"with-bolt" in (first / "python/bin/python3").read_bytes()
    assert b"without-bolt" in (second / "python/bin/python3").read_bytes()
    assert interpreters.extract_distribution(archives[0], dists) == first  # reused


# ---------------------------------------------------------------------------------------------
# Per-interpreter environment and distributions for another C library


def test_env_option_sets_variables_per_label() -> None:
    config = cli.parse_args(
        ["--dist", "musl=a-full.tar.zst", "--dist", "mi=a-full.tar.zst",
         "--env", "mi=PYTHONMALLOC=mimalloc", "--env", "mi=X=a=b"]
    )  # fmt: skip
    assert config.environ == {"mi": {"PYTHONMALLOC": "mimalloc", "X": "a=b"}}
    for bad in ("PYTHONMALLOC=mimalloc", "mi=1X=2", "mi=NOVALUE"):
        with pytest.raises(UsageError, match="expected LABEL=NAME=VALUE"):
            cli.parse_args(["--dist", "mi=a-full.tar.zst", "--env", bad])


def test_environment_and_launcher_reach_pyperf_and_its_workers(tmp_path: Path) -> None:
    interp = interpreters.Interpreter("mi", "dist", tmp_path / "a.tar.zst", tmp_path / "python3")
    interp.environ = {"PYTHONMALLOC": "mimalloc", "A": "1"}
    interp.launcher = ("/usr/bin/python3", "-I", "ns.py", "--")
    contender = runner.Contender(interp, tmp_path / "venv/bin/python")
    benchmark = bm.Benchmark("nbody", "pyperformance", tmp_path, "run_benchmark.py", ())
    staged = bm.StagedBenchmark(benchmark, tmp_path / "run_benchmark.py", None)
    outcome = runner.Outcome(tmp_path / "r.json", tmp_path / "r.log")
    cmd = runner.pyperf_command(contender, staged, runner.RunSettings(1, 1, 1, 0), outcome)
    # env(1) first, so the namespace launcher and everything it starts get the variables.
    assert cmd[:7] == ["env", "A=1", "PYTHONMALLOC=mimalloc", "/usr/bin/python3", "-I", "ns.py",
                       "--"]  # fmt: skip
    assert cmd[7] == str(tmp_path / "venv/bin/python")
    # pyperf starts its workers with a clean environment unless told which variables to keep.
    assert cmd[cmd.index("--inherit-environ") + 1] == "A,PYTHONMALLOC"
    assert interp.describe()["environ"] == {"A": "1", "PYTHONMALLOC": "mimalloc"}


def _extracted(tmp_path: Path, metadata: dict | None) -> tuple[Path, Path]:
    root = tmp_path / "dist"
    python = root / "python/install/bin/python3"
    python.parent.mkdir(parents=True)
    python.symlink_to(Path(sys.executable).resolve())
    if metadata is not None:
        (root / "python/PYTHON.json").write_text(json.dumps(metadata))
    return root, python


def test_another_cpus_distribution_is_refused_before_anything_runs(tmp_path: Path) -> None:
    from pythonbuild.bench import runtime

    root, python = _extracted(tmp_path, {"target_triple": "aarch64-unknown-linux-gnu",
                                         "build_options": "lto"})  # fmt: skip
    with pytest.raises(UsageError, match=r"only under qemu-aarch64.*bench it on an aarch64 machine"):
        runtime.distribution_launcher(root, python, tmp_path / "x.tar.zst", tmp_path / "work")


def test_a_glibc_distribution_of_this_cpu_starts_as_it_is(tmp_path: Path) -> None:
    from pythonbuild.bench import runtime

    root, python = _extracted(tmp_path, {"target_triple": "x86_64-unknown-linux-gnu",
                                         "build_options": "pgo+lto"})  # fmt: skip
    assert runtime.distribution_launcher(root, python, root, tmp_path / "work") == ()


def test_install_only_archive_needing_a_missing_loader_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pythonbuild.bench import runtime

    root, python = _extracted(tmp_path, None)
    assert runtime.distribution_launcher(root, python, root, tmp_path / "work") == ()
    monkeypatch.setattr(runtime, "read_interpreter", lambda path: "/lib/ld-none-test.so.1")
    with pytest.raises(UsageError, match=r"needs the loader /lib/ld-none-test\.so\.1.*full archive"):
        runtime.distribution_launcher(root, python, tmp_path / "a.tar.gz", tmp_path / "work")


def test_geometric_mean_interval_is_seeded_and_holds_the_mean() -> None:
    rows = {
        "a": {"base": _m("a", 1.0, 1.1, 0.9, 1.05), "new": _m("a", 0.5, 0.6, 0.55, 0.45)},
        "b": {"base": _m("b", 2.0, 2.0, 2.2, 1.8), "new": _m("b", 2.1, 1.9, 2.0, 2.2)},
    }
    summary = results.Summary(["base", "new"], "base", ["a", "b"], rows)
    low, high = summary.geometric_mean_interval("new", resamples=500)  # type: ignore[misc]
    assert low < summary.geometric_mean("new") < high  # type: ignore[operator]
    assert summary.geometric_mean_interval("new", resamples=500) == (low, high)  # seeded
    assert summary.geometric_mean_interval("base") is None
    steady = {"a": {"base": _m("a", 2.0, 2.0), "new": _m("a", 1.0, 1.0)}}
    fixed = results.Summary(["base", "new"], "base", ["a"], steady)
    assert fixed.geometric_mean_interval("new", resamples=50) == (2.0, 2.0)
    assert "95% interval" in report.format_table(summary)


def test_each_ratio_has_its_interval_and_the_widest_is_named() -> None:
    rows = {
        "steady": {"base": _m("steady", 2.0, 2.02, 1.98, 2.0), "new": _m("steady", 1.0, 1.01, 0.99, 1.0),
                   "noisy": _m("steady", 2.0, 2.6, 1.5, 2.1)},
        "same": {"base": _m("same", 1.0, 1.2, 0.8, 1.1), "new": _m("same", 1.1, 0.9, 1.0, 1.2),
                 "noisy": _m("same", 1.0, 1.5, 0.6, 1.2)},
    }  # fmt: skip
    summary = results.Summary(["base", "new", "noisy"], "base", ["steady", "same"], rows)
    low, high = summary.ratio_interval("steady", "new", resamples=500)  # type: ignore[misc]
    assert 1.9 < low <= summary.ratio("steady", "new") <= high < 2.1  # type: ignore[operator]
    same_low, same_high = summary.ratio_interval("same", "new", resamples=500)  # type: ignore[misc]
    assert same_low < 1.0 < same_high  # no measured difference
    assert summary.ratio_interval("steady", "base") is None
    assert summary.ratio_interval("steady", "new", resamples=500) == (low, high)  # seeded
    label, width = summary.widest_interval()  # type: ignore[misc]
    assert label == "noisy"
    assert width > summary.geometric_mean_interval("new")[1] - summary.geometric_mean_interval("new")[0]  # type: ignore[index]
    shown = summary.ratio_interval("steady", "new")  # the default resampling
    table = report.format_table(summary)
    steady_line = next(line for line in table.splitlines() if line.startswith("steady"))
    assert f"[{shown[0]:.2f}-{shown[1]:.2f}]" in steady_line  # type: ignore[index]
    document = report.bench_document(summary, interpreters=[], settings={}, started="",
                                     finished="", raw_results={})  # fmt: skip
    assert document["benchmarks"]["steady"]["new"]["ratio_interval_95"] == shown


def test_target_ci_options() -> None:
    config = cli.parse_args(["--python", "/usr/bin/python3", "--target-ci", "0.02"])
    assert (config.settings.rounds, config.settings.max_rounds) == (
        cli.TARGET_CI_MIN_ROUNDS, cli.DEFAULT_MAX_ROUNDS
    )
    assert config.settings.round_limit == cli.DEFAULT_MAX_ROUNDS
    config = cli.parse_args(["--python", "/usr/bin/python3", "--target-ci", "0.05",
                             "--rounds", "2", "--max-rounds", "4"])  # fmt: skip
    assert (config.settings.rounds, config.settings.round_limit) == (2, 4)
    assert cli.parse_args(["--python", "/usr/bin/python3"]).settings.round_limit == 7
    for argv, message in (
        (["--target-ci", "2"], "between 0 and 1"),
        (["--max-rounds", "9"], "only applies with --target-ci"),
        (["--target-ci", "0.02", "--rounds", "5", "--max-rounds", "4"], "fewer than --rounds"),
    ):
        with pytest.raises(UsageError, match=message):
            cli.parse_args(["--python", "/usr/bin/python3", *argv])


@pytest.mark.parametrize(("precise_after", "expected_rounds"), [(None, 5), (0, 2), (2, 4)])
def test_rounds_continue_until_precise_enough_or_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, precise_after: int | None, expected_rounds: int
) -> None:
    """--target-ci: at least `rounds`, then one more round at a time until `enough` says so, and
    never more than `max_rounds`."""
    interp = interpreters.Interpreter("a", "python", Path("/usr/bin/python3"), Path("/usr/bin/python3"))
    contender = runner.Contender(interp, tmp_path / "venv/bin/python")
    benchmark = bm.Benchmark("nbody", "pyperformance", tmp_path, "run_benchmark.py", ())
    staged = bm.StagedBenchmark(benchmark, tmp_path / "run_benchmark.py", None)
    runs: list[str] = []

    def fake_run(contender, staged, settings, outcome, env):  # type: ignore[no-untyped-def]
        runs.append(staged.name)
        outcome.status = "ok"
        return "ok"

    asked: list[int] = []

    def enough(outcomes) -> bool:  # type: ignore[no-untyped-def]
        asked.append(len(runs))
        return precise_after is not None and len(asked) > precise_after

    monkeypatch.setattr(runner, "_run_benchmark", fake_run)
    settings = runner.RunSettings(2, 1, 1, 0, target_ci=0.02, max_rounds=5)
    outcomes, rounds = runner.run_rounds([contender], [staged], settings, tmp_path / "raw",
                                         tmp_path / "logs", {}, enough=enough)  # fmt: skip
    assert rounds == expected_rounds == len(runs)
    assert asked[0] == 2  # first asked after the minimum number of rounds
    assert outcomes["a", "nbody"].status == "ok"
    runs.clear()
    _, plain = runner.run_rounds([contender], [staged], settings, tmp_path / "raw",
                                 tmp_path / "logs", {})  # fmt: skip
    assert plain == 2 == len(runs)  # without `enough`, exactly `rounds`


def test_noise_is_the_median_relative_spread() -> None:
    rows = {
        "a": {"base": _m("a", 1.0, 1.0), "new": _m("a", 0.9, 1.1)},
        "b": {"base": _m("b", 2.0, 2.0), "new": _m("b", 1.0, 1.0)},
        "c": {"base": _m("c", 1.0), "new": _m("c", 0.5, 1.5)},
    }
    summary = results.Summary(["base", "new"], "base", ["a", "b", "c"], rows)
    assert summary.noise("base") == 0.0  # "c" has one value: no spread to count
    spread_a = results.statistics.stdev([0.9, 1.1]) / 1.0
    assert summary.noise("new") == pytest.approx(spread_a)  # median of (a, 0, c)
    assert "Noise (median" in report.format_table(summary)


def test_affinity_reaches_pyperf_and_is_checked(tmp_path: Path) -> None:
    cpu = min(os.sched_getaffinity(0))
    config = cli.parse_args(["--python", "/usr/bin/python3", "--affinity", str(cpu)])
    assert config.settings.affinity == str(cpu)
    interp = interpreters.Interpreter("a", "python", Path("/usr/bin/python3"), Path("/usr/bin/python3"))
    contender = runner.Contender(interp, tmp_path / "venv/bin/python")
    benchmark = bm.Benchmark("nbody", "pyperformance", tmp_path, "run_benchmark.py", ())
    staged = bm.StagedBenchmark(benchmark, tmp_path / "run_benchmark.py", None)
    outcome = runner.Outcome(tmp_path / "r.json", tmp_path / "r.log")
    cmd = runner.pyperf_command(contender, staged, config.settings, outcome)
    assert cmd[cmd.index("--affinity") + 1] == str(cpu)
    assert "--affinity" not in runner.pyperf_command(contender, staged, cli.DEFAULT_SETTINGS, outcome)
    with pytest.raises(UsageError, match="expected a CPU list"):
        cli.parse_args(["--python", "/usr/bin/python3", "--affinity", "first"])
    with pytest.raises(UsageError, match="CPU 4096 is not one"):
        cli.parse_args(["--python", "/usr/bin/python3", "--affinity", "0,4096"])
