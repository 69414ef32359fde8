"""What the project keeps on a machine (downloads, artifacts, images, root filesystems, work
directories), whether today's checkout still refers to it, and pruning it.

``python -m pythonbuild cache [prune]``; the kinds and where each lives: docs/cache.md.
"""
