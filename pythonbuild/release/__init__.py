"""Publishing builds: a release directory from several builds' dist/ (``collect``, the files it
writes in ``files``) and the CI workflow that makes those builds (``ci_matrix``).  docs/release.md,
docs/ci.md."""
