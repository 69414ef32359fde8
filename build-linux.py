#!/usr/bin/env python3
"""Build a standalone CPython distribution for a Linux target.

    ./build-linux.py --target x86_64-unknown-linux-gnu --python 3.13 --options noopt

On first use this creates build/venv-build from the hash-pinned requirements.txt and re-runs
itself inside it.  See README.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pythonbuild.bootstrap import ensure_venv

if __name__ == "__main__":
    ensure_venv("requirements.txt", "build")
    from pythonbuild.linux.cli import main

    sys.exit(main())
