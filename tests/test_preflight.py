"""Sizes as people write them and as we print them (pythonbuild/sizes.py)."""

from __future__ import annotations

import pytest

from pythonbuild.errors import UsageError
from pythonbuild.sizes import format_size, parse_size

GB, MB = 1024**3, 1024**2


# ---------------------------------------------------------------------------------------------
# Sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("1048576", MB), ("500M", 500 * MB), ("1.5G", 3 * GB // 2), ("2g", 2 * GB),
     ("2GB", 2 * GB), ("2GiB", 2 * GB), (" 40G ", 40 * GB), ("1T", 1024 * GB), ("10K", 10240),
     ("512B", 512), ("0.5G", GB // 2)],
)  # fmt: skip
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "G", "-1G", "1.5X", "1 G B", "ten", "1e9", "1GG"])
def test_a_bad_size_is_one_line(text):
    with pytest.raises(UsageError) as caught:
        parse_size(text)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{text!r} is not a size")


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (MB - 1, "1.0 MB"),
     (int(1.25 * GB), "1.2 GB"), (int(1.3 * GB), "1.3 GB"), (3 * 1024 * GB, "3.0 TB")],
)  # fmt: skip
def test_format_size(n, text):
    assert format_size(n) == text
