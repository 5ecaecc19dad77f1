"""The files shipped in the package: the example config and the systemd units.

The wheel carries them in `syncd/_data/` (pyproject: hatch `force-include`), so that an
install without a checkout has them (`syncd example-config`, `syncd unit`); run from a
checkout (or an editable install) they are read from where they live in it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ("config.example.yaml", "config.example.yaml")  # (in _data, in the checkout)
UNIT = ("syncd.service", "systemd/syncd.service")
TEMPLATE_UNIT = ("syncd@.service", "systemd/syncd@.service")


def _read(packaged: str, checkout: str) -> str:
    data = resources.files("syncd").joinpath("_data", packaged)
    if data.is_file():
        return data.read_text(encoding="utf-8")
    return (_CHECKOUT / checkout).read_text(encoding="utf-8")


def example_config() -> str:
    return _read(*EXAMPLE_CONFIG)


def unit(*, instance: bool) -> str:
    """`syncd@.service` (one instance per /etc/syncd/NAME.yaml), else `syncd.service`."""
    return _read(*(TEMPLATE_UNIT if instance else UNIT))
