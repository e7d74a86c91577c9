"""doctor's probe: runs inside the interpreter being diagnosed, started as the user gave it.

It imports nothing from pycache_tool (the target may not have it installed), only the standard
library, in Python 2 syntax too: an interpreter too old for doctor still answers, and is told
so in one line. It prints one JSON line: what ``interpreters.query`` learns (tag, magic,
settings), and under "doctor" what doctor needs besides (where each setting came from, the
standard library and site-packages directories).
"""

import sys

# What start-up left in sys.dont_write_bytecode (-B, PYTHONDONTWRITEBYTECODE, or start-up
# code such as sitecustomize); from here on the probe writes no cache for what it imports.
doctor_writes = not sys.dont_write_bytecode
sys.dont_write_bytecode = True

import os  # noqa: E402  (after the line above: nothing may be compiled before it)

# A script's own directory comes first on sys.path (unless -P or -I): only the standard
# library may answer the imports below.
here = os.path.dirname(os.path.realpath(__file__))
if sys.path and os.path.realpath(sys.path[0] or ".") == here:
    del sys.path[0]

import json  # noqa: E402
import sysconfig  # noqa: E402

try:
    import importlib.util

    magic = importlib.util.MAGIC_NUMBER
except (ImportError, AttributeError):  # Python 2
    import imp

    magic = imp.get_magic()
try:
    import _imp

    mode = getattr(_imp, "check_hash_based_pycs", "default")
except ImportError:
    mode = "default"
try:
    import importlib.machinery

    extensions = list(importlib.machinery.EXTENSION_SUFFIXES)
except (ImportError, AttributeError):  # Python 2
    import imp

    extensions = [s for s, _, kind in imp.get_suffixes() if kind == imp.C_EXTENSION]
impl = getattr(sys, "implementation", None)
paths = sysconfig.get_paths()
info = {
    "implementation": impl.name if impl else ("pypy" if "PyPy" in sys.version else "cpython"),
    "version": ".".join(str(n) for n in sys.version_info[:2]),
    "magic": bytearray(magic)[0] | bytearray(magic)[1] << 8,
    "tag": impl.cache_tag if impl else None,
    "optimize": sys.flags.optimize,
    "check_hash_based_pycs": mode,
    "pycache_prefix": getattr(sys, "pycache_prefix", None),
    "executable": sys.executable,
    "extension_suffixes": extensions,
    "doctor": {
        "writes": doctor_writes,
        "flag": bool(sys.flags.dont_write_bytecode),
        "ignore_environment": bool(sys.flags.ignore_environment),
        "x_prefix": getattr(sys, "_xoptions", {}).get("pycache_prefix"),
        "environ": {
            k: os.environ.get(k)
            for k in ("PYTHONDONTWRITEBYTECODE", "PYTHONOPTIMIZE", "PYTHONPYCACHEPREFIX")
        },
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        "full_version": sys.version.split()[0],
        "stdlib": paths.get("stdlib"),
        "site": [paths.get("purelib"), paths.get("platlib")],
        "cwd": os.getcwd(),
    },
}
print(json.dumps(info))
