"""From a finished build to its archives, on every platform: what a driver hands over
(``finished_build``), assembly (``assemble``), the archives themselves, written and read
(``archive``), PYTHON.json (``metadata``, ``buildinfo``, ``setupfiles``), relocation
(``relocate``), ELF facts (``elf``) and Debian package files (``debfile``).  Nothing here imports
a platform wing (tests/test_import_layers.py).
"""
