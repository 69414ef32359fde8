"""Small in-memory tar archives for tests: name -> content, regular files only."""

from __future__ import annotations

import io
import tarfile


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of ``files``, in the order given (ustar defaults: mode 0644, mtime 0)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
