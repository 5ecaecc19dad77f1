"""`python -m syncd`: the same entry point as the `syncd` console script."""

from syncd.cli.parser import entry

entry()
