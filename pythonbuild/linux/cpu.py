"""Can this machine run code built for a target's -march?

The CPython build runs the interpreter it has just built (freezing modules, generating the
sysconfig data, byte-compiling, and the PGO and BOLT training runs). For a target whose
instructions the host lacks, the build runs a separate interpreter built for the host instead,
and pgo builds need recorded profiles (pythonbuild/linux/driver.py, cpython-unix/build-python.sh).
"""

from __future__ import annotations

import os
from pathlib import Path

# /proc/cpuinfo flag names for each x86-64 microarchitecture level (the psABI's list; "abm" is
# how Linux names LZCNT).
_V2 = frozenset({"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"})
_V3 = _V2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
_V4 = _V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
X86_64_LEVEL_FLAGS: dict[str, frozenset[str]] = {
    "x86-64": frozenset(),
    "x86-64-v2": _V2,
    "x86-64-v3": _V3,
    "x86-64-v4": _V4,
}
# For testing a smaller host: a space-separated flag list used instead of /proc/cpuinfo's.
FLAGS_OVERRIDE_ENV = "STANDALONE_PYTHON_HOST_CPU_FLAGS"


def host_cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    override = os.environ.get(FLAGS_OVERRIDE_ENV)
    if override is not None:
        return frozenset(override.split())
    for line in cpuinfo.read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def missing_cpu_flags(march: str, flags: frozenset[str]) -> list[str]:
    """The instructions ``march`` code may use that a CPU with ``flags`` lacks (sorted).

    Unknown -march values (other architectures) are the caller's business: they return [].
    """
    return sorted(X86_64_LEVEL_FLAGS.get(march, frozenset()) - flags)
