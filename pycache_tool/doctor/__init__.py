"""doctor: how an interpreter is set up for bytecode caching, and what is wrong with it.

``diagnose.py`` is the core (it returns data); ``probe.py`` is the script that runs inside the
interpreter being diagnosed.
"""

from pycache_tool.doctor.diagnose import (
    Diagnosis,
    Finding,
    Level,
    Location,
    Settings,
    command_of,
    diagnose,
    findings,
    survey,
)

__all__ = [
    "Diagnosis",
    "Finding",
    "Level",
    "Location",
    "Settings",
    "command_of",
    "diagnose",
    "findings",
    "survey",
]
