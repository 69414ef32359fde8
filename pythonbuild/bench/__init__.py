"""``python -m pythonbuild bench``: pyperformance/pyperf benchmarks of several interpreters.

Modules: ``benchmarks`` (which scripts exist and what a selection means), ``interpreters``
(distributions, reference pythons, chroots), ``venvs`` (one pyperf venv per interpreter),
``runner`` (the interleaved rounds), ``results`` (reading pyperf JSON, ratios, geometric means),
``report`` (table and ``bench.json``), ``chart`` (``bench.png``), ``cli`` (the command line),
``debian_python`` (a Debian chroot with Debian's own python as a reference).
"""
