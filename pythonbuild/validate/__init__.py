"""``python -m pythonbuild validate``: check a distribution archive without running it.

Each rule module looks at one aspect of the extracted archive and returns findings; a finding
names the archive member, the rule, what was found and what is allowed (docs/validation.md).
"""

from .findings import Finding
from .run import validate_archive, validate_or_fail

__all__ = ["Finding", "validate_archive", "validate_or_fail"]
