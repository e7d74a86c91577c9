"""pycache-tool: keep Python bytecode caches honest."""

import sys

# The tool must never write bytecode of its own, whatever the environment says.
sys.dont_write_bytecode = True

from .errors import ExitCode, PycacheToolError, UsageError  # noqa: E402
from .interpreters import Interpreter  # noqa: E402
from .records import Record, Status  # noqa: E402
from .scan import Coverage, Scan, scan  # noqa: E402

__version__ = "0.1.0"

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
