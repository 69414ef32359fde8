"""``python -m pythonbuild pgo-compare A B``: how much two trained PGO profiles differ.

Training is the one step of a pgo build whose output varies from run to run, which is why pgo
builds export their profile and ``--pgo-profile`` replays it. This command measures the
variation between two profile bundles (``*-profile.tar.zst``): it has llvm-profdata 19 write
both clang profiles as text and compares them function by function, and prints
llvm-profdata's own program-level edge overlap. llvm-profdata runs in the target's build image,
because the host's (if any) may be older than the profile format.
"""

from __future__ import annotations

import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArgumentParser, BuildError, run_command
from .pgo_profile import CLANG_PROFILE, read_bundle

DEFAULT_TARGET = "x86_64-unknown-linux-gnu"
SCRIPT = """set -e
mkdir -p /out
for side in a b; do llvm-profdata merge -text -o /out/$side.txt /in/$side.profdata; done
llvm-profdata overlap /in/a.profdata /in/b.profdata > /out/overlap.txt
"""


def parse_text_profile(text: str) -> dict[tuple[str, str], tuple[int, ...]]:
    """Functions of ``llvm-profdata merge -text`` output: (name, hash) -> counter values.

    The name alone is not unique: static functions of two files with the same base name (two
    ``exceptions.c``) share it, and their hashes tell them apart.

    Records are separated by blank lines; a record is the function's name, then ``# Func
    Hash:``, ``# Num Counters:`` and ``# Counter Values:`` each followed by its values (value
    profile and bitmap sections that may follow are not compared).
    """
    functions: dict[tuple[str, str], tuple[int, ...]] = {}
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        # A header comment ("# IR level Instrumentation Flag") may precede the first record.
        while lines and lines[0].startswith("#"):
            lines.pop(0)
        if not lines:
            continue
        name, sections, current = lines[0], {}, None
        for line in lines[1:]:
            if line.startswith("#"):
                current = line.lstrip("# ").rstrip(":")
                sections[current] = []
            elif current is not None:
                sections[current].append(line.strip())
        if "Func Hash" not in sections or "Counter Values" not in sections:
            raise ValueError(f"function {name!r}: no hash or counters in the text profile")
        key = (name, sections["Func Hash"][0])
        functions[key] = tuple(int(v) for v in sections["Counter Values"])
    return functions


@dataclass(frozen=True)
class ProfileDifference:
    only_a: int
    only_b: int
    same: int  # in both (same name and hash) with the same counter values
    counts_differ: int  # in both, other counter values
    counters: int  # counters of the functions in both
    counters_differ: int

    def lines(self) -> list[str]:
        common = self.same + self.counts_differ
        share = 100 * self.same / common if common else 100.0
        counter_share = 100 * self.counters_differ / self.counters if self.counters else 0.0
        return [
            f"functions in both profiles: {common} (only in A: {self.only_a}, only in B: "
            f"{self.only_b})",
            f"identical counters: {self.same} functions ({share:.2f}%); different counts: "
            f"{self.counts_differ}",
            f"counters that differ: {self.counters_differ} of {self.counters} "
            f"({counter_share:.2f}%)",
        ]


def compare(
    a: dict[tuple[str, str], tuple[int, ...]], b: dict[tuple[str, str], tuple[int, ...]]
) -> ProfileDifference:
    same = counts_differ = counters = counters_differ = 0
    for key in a.keys() & b.keys():
        if len(a[key]) != len(b[key]):
            raise ValueError(f"function {key[0]!r}: same hash, different number of counters")
        differing = sum(x != y for x, y in zip(a[key], b[key], strict=True))
        counters += len(a[key])
        counters_differ += differing
        if differing:
            counts_differ += 1
        else:
            same += 1
    return ProfileDifference(
        only_a=len(a.keys() - b.keys()),
        only_b=len(b.keys() - a.keys()),
        same=same,
        counts_differ=counts_differ,
        counters=counters,
        counters_differ=counters_differ,
    )


def program_overlap(overlap_report: str) -> list[str]:
    """llvm-profdata overlap's program-level lines (edge overlap, count sums)."""
    lines = overlap_report.splitlines()
    try:
        start = lines.index("Program level:")
    except ValueError:
        return []
    result = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        result.append(line.strip())
    return result


def _run_llvm_profdata(a: bytes, b: bytes, target_name: str, work: Path) -> Path:
    from ..paths import ROOT
    from ..targets import get_target
    from . import engine as engine_mod
    from .containers import ContainerRun, run_in_container
    from .images.build import image_exists, planned_build_image

    target = get_target(target_name)
    tag = planned_build_image(target).tag
    engine = engine_mod.connect()
    try:
        if not image_exists(engine, tag):
            raise BuildError(
                f"the build image {tag} is not there; run a build of {target_name} first (it "
                "makes the image with llvm-profdata 19)"
            )
        out_tar = work / "out.tar"
        run = ContainerRun(
            image=tag,
            command=["sh", "-c", SCRIPT],
            env={},
            files={"/in/a.profdata": a, "/in/b.profdata": b},
        )
        logfile = ROOT / "build" / "logs" / "pgo-compare.log"
        run_in_container(engine, run, logfile, "llvm-profdata", out_tar)
    finally:
        engine.close(keep=True)
    with tarfile.open(out_tar) as tar:
        tar.extractall(work, filter="data")
    return work / "out"


@dataclass(frozen=True)
class CompareConfig:
    a: Path
    b: Path
    target: str


def parse_args(argv: list[str]) -> CompareConfig:
    parser = ArgumentParser(
        prog="python -m pythonbuild pgo-compare",
        description="How much two trained PGO profile bundles (*-profile.tar.zst) differ.",
    )
    parser.add_argument("a", type=Path, metavar="PROFILE_A")
    parser.add_argument("b", type=Path, metavar="PROFILE_B")
    parser.add_argument("--target", default=DEFAULT_TARGET,
                        help="whose build image runs llvm-profdata (default: %(default)s)")  # fmt: skip
    args = parser.parse_args(argv)
    return CompareConfig(args.a, args.b, args.target)


def run(config: CompareConfig) -> int:
    bundles = [read_bundle(path) for path in (config.a, config.b)]
    with tempfile.TemporaryDirectory(prefix="sp-pgo-compare-") as tmp:
        out = _run_llvm_profdata(
            bundles[0].members[CLANG_PROFILE],
            bundles[1].members[CLANG_PROFILE],
            config.target,
            Path(tmp),
        )
        try:
            difference = compare(
                parse_text_profile((out / "a.txt").read_text()),
                parse_text_profile((out / "b.txt").read_text()),
            )
            overlap = program_overlap((out / "overlap.txt").read_text())
        except ValueError as exc:
            raise BuildError(f"cannot read llvm-profdata's output: {exc}") from None
    for bundle, label in zip(bundles, "AB", strict=True):
        print(f"{label}: {bundle.path} (sha256 {bundle.sha256[:16]})")
    for line in difference.lines() + overlap:
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "python -m pythonbuild pgo-compare", sys.argv[1:] if argv is None else argv, parse_args, run
    )
