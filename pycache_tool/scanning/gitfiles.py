"""Bytecode that git tracks: `.gitignore` cannot help once a cache file is committed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable


def tracked_bytecode(roots: Iterable[str]) -> list[str]:
    """Absolute paths of tracked ``.pyc``/``.pyo`` files and ``__pycache__`` contents under ``roots``."""
    found: list[str] = []
    for root in roots:
        try:
            done = subprocess.run(
                ["git", "-C", root, "ls-files", "-z", "--", "*.pyc", "*.pyo", "*__pycache__/*"],
                capture_output=True,
                timeout=120,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return found  # no git: nothing can be tracked
        if done.returncode != 0:
            continue  # not a repository
        for raw in done.stdout.split(b"\0"):
            if not raw:
                continue
            rel = os.fsdecode(raw)
            parts = rel.split("/")
            if rel.endswith((".pyc", ".pyo")) or "__pycache__" in parts[:-1]:
                found.append(os.path.join(root, *parts))
    return sorted(set(found))
