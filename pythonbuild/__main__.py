"""``python -m pythonbuild SUBCOMMAND [ARGS]``: the project's helper commands.

Each subcommand runs in a venv made from its hash-pinned requirements file (created on first
use; see pythonbuild/bootstrap.py), so only the standard library may be imported up here.
"""

import importlib
import sys

# subcommand -> (module with main(argv) -> int, requirements file, venv name, one-line help)
SUBCOMMANDS = {
    "bench": ("pythonbuild.bench.cli", "requirements-bench.txt", "bench",
              "benchmark distributions against reference interpreters"),
    "debian-python": ("pythonbuild.bench.debian_python", "requirements-bench.txt", "bench",
                      "make a Debian chroot with Debian's own python, a reference for bench"),
    "peer-build": ("pythonbuild.bench.peer_build", "requirements-bench.txt", "bench",
                   "build CPython the way another distributor does (docker-recipe), for bench"),
    "validate": ("pythonbuild.validate.cli", "requirements.txt", "build",
                 "check distribution archives without running them (docs/validation.md)"),
    "sizes": ("pythonbuild.validate.sizes_cli", "requirements.txt", "build",
              "where an archive's bytes go, and its size against the recorded one (docs/sizes.md)"),
    "test-dist": ("pythonbuild.testdist.cli", "requirements.txt", "build",
                  "test a distribution archive: smoke tests, regrtest, other Linux systems"),
    "reproduce": ("pythonbuild.reproduce.cli", "requirements.txt", "build",
                  "rebuild an archive from its recorded inputs and compare (or --compare A B)"),
    "pgo-compare": ("pythonbuild.linux.pgo_compare", "requirements.txt", "build",
                    "how much two trained PGO profiles (*-profile.tar.zst) differ"),
    "release": ("pythonbuild.release.collect", "requirements.txt", "build",
                "collect builds into a release: SHA256SUMS, uv downloads list, notes"),
    "lock-images": ("pythonbuild.linux.images.cli", "requirements.txt", "build",
                    "remake the images from the Debian mirror, write cpython-unix/image-packages.lock"),
    "cache": ("pythonbuild.cache.cli", "requirements.txt", "build",
              "what the project keeps on this machine, and pruning it (docs/cache.md)"),
    "host-tools": ("pythonbuild.linux.host_tools_cli", "requirements.txt", "build",
                   "the programs the build and its tests run on this machine (--install: as root)"),
    "relink": ("pythonbuild.relink.cli", "requirements.txt", "build",
               "link a new executable from a full archive's objects (docs/relinking.md)"),
    "ci-matrix": ("pythonbuild.release.ci_matrix", "requirements.txt", "build",
                  "write .github/workflows/build.yml from the targets and options (--check)"),
}  # fmt: skip


def _usage() -> str:
    lines = ["usage: python -m pythonbuild SUBCOMMAND [--help | ARGS]", "", "subcommands:"]
    lines += [f"  {name:15} {entry[3]}" for name, entry in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    if args[0] not in SUBCOMMANDS:
        print(f"{_usage()}\n\nerror: unknown subcommand {args[0]!r}", file=sys.stderr)
        return 2
    module_name, requirements, venv_name, _ = SUBCOMMANDS[args[0]]
    from pythonbuild.bootstrap import ensure_venv

    # ensure_venv re-executes `python *sys.argv`; under -m, argv[0] is this file's path, and
    # running it as a plain script would break the package's relative imports.
    sys.argv = ["-m", "pythonbuild", *args]
    ensure_venv(requirements, venv_name)
    return importlib.import_module(module_name).main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
