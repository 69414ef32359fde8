"""From a finished build to its archives, on every platform: the archives themselves (writing and
reading, ``archive``), assembly (``assemble``), PYTHON.json (``metadata``, ``buildinfo``,
``setupfiles``), relocation (``relocate``), ELF facts (``elf``) and Debian package files
(``debfile``).  Nothing here imports a platform wing: a driver hands assembly a record of what it
built.
"""
