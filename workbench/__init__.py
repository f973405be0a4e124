"""Workbench: product analytics and AI generation for Jupyter.

>>> import workbench as wb
>>> acme = wb.open().brand("acme")
"""
import logging

from .errors import WorkbenchError
from .workspace import BrandScope, Workspace, open_workspace as open  # noqa: A001 - the public verb

__all__ = ["open", "Workspace", "BrandScope", "WorkbenchError"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
