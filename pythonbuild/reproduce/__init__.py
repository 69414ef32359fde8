"""``python -m pythonbuild reproduce``: rebuild an archive from the inputs it records, compare.

``record`` writes and reads ``python/build/inputs.json`` (assembly puts it in every full
archive); ``members``, ``compare``, ``details`` and ``report`` compare two archives member by
member; ``rebuild`` runs the recorded commit's build in a worktree. docs/reproducibility.md.
"""
