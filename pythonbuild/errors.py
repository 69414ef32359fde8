"""Errors meant for people: each carries one line that names the problem and the fix."""


class BuildError(Exception):
    """A failure the user can act on; the CLI prints ``error: <message>`` and exits 1."""

    exit_code = 1


class UsageError(BuildError):
    """Bad command-line input; exit 2 like argparse."""

    exit_code = 2
