"""``python -m pythonbuild test-dist``: test a built distribution the way a user would run it.

Smoke tests (``resources/testdist/smoke.py``, run by the distribution's own interpreter) on the
host or in bare containers of other Linux systems, and optionally CPython's regression suite
with the exclusions kept in ``resources/testdist/exclusions.yml``.
"""
