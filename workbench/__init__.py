"""Workbench: product analytics and AI generation for Jupyter.

>>> import workbench as wb
>>> acme = wb.open().brand("acme")

The names below load on first use, so that ``import workbench`` (and ``workbench --help``)
stays quick; ``wb.analytics``, ``wb.reports`` and the other subpackages load the same way.
"""
import importlib
import logging

from .errors import WorkbenchError

__all__ = ["open", "Workspace", "BrandScope", "WorkbenchError"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_FACE = {"open": "open_workspace", "open_workspace": "open_workspace", "Workspace": "Workspace",
         "BrandScope": "BrandScope"}


def __getattr__(name: str):
    if name in _FACE:
        from . import workspace
        return getattr(workspace, _FACE[name])
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}") from None
