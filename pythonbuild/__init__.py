"""standalone-python: reproducible, containerized builds of standalone CPython distributions."""
