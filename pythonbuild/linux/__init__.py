"""The Linux wing: everything only a Linux build does (docs/architecture.md).

``cli`` parses build-linux.py's command line into a ``config.LinuxBuildConfig``; ``driver`` runs
the build: ``plan`` (steps and cache keys), ``images`` (the containers' systems), ``engine`` and
``containers`` (the container engine), ``steps`` (one container per step), then hands the
finished build to ``pythonbuild.distribution``.
"""
