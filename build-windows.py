#!/usr/bin/env python3
"""Windows (MSVC) builds: not implemented yet.

The Windows driver will live in pythonbuild/windows/ and cpython-windows/, a wing beside
pythonbuild/linux/ that shares the source registry, archive writing and PYTHON.json code
(pythonbuild/distribution/) with it (docs/architecture.md).
"""

import sys

if __name__ == "__main__":
    print(
        "build-windows.py: error: Windows builds are not implemented yet; "
        "use build-linux.py on Linux (see README.md)",
        file=sys.stderr,
    )
    sys.exit(2)
