"""pycache-tool: keep Python bytecode caches honest.

The library's entry point is :func:`scan`. Importing the package loads nothing else and changes
nothing in the host process: the names below are imported on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_HOMES = {
    "Coverage": "pycache_tool.scanning.coverage",
    "Scan": "pycache_tool.scanning.scan",
    "scan": "pycache_tool.scanning.scan",
    "Record": "pycache_tool.scanning.records",
    "Status": "pycache_tool.scanning.records",
    "Interpreter": "pycache_tool.bytecode.interpreters",
    "ExitCode": "pycache_tool.errors",
    "PycacheToolError": "pycache_tool.errors",
    "UsageError": "pycache_tool.errors",
}

__all__ = [
    "Coverage",
    "ExitCode",
    "Interpreter",
    "PycacheToolError",
    "Record",
    "Scan",
    "Status",
    "UsageError",
    "__version__",
    "scan",
]

if TYPE_CHECKING:
    from pycache_tool.bytecode.interpreters import Interpreter
    from pycache_tool.errors import ExitCode, PycacheToolError, UsageError
    from pycache_tool.scanning.coverage import Coverage
    from pycache_tool.scanning.records import Record, Status
    from pycache_tool.scanning.scan import Scan, scan


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pycache_tool' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
