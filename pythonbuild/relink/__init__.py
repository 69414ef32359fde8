"""Relinking: a new executable from a full archive's objects, using only what PYTHON.json says."""
