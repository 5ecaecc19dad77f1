"""`python -m syncd`: the same entry point as the `syncd` console script."""

from syncd.cli import entry

entry()
