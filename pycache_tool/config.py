"""Defaults from ``[tool.pycache-tool]`` in the project's pyproject.toml."""

from __future__ import annotations

import os
import sys
from typing import Any

from pycache_tool.errors import UsageError
from pycache_tool.scanning.walk import project_root

# key -> expected type; names match the command-line options
KEYS: dict[str, type] = {
    "exclude": list,
    "no-ignore": bool,
    "pycache-prefix": str,
    "python": list,
    "tag": list,
}


def load(start: str) -> tuple[dict[str, Any], str | None]:
    """The settings for the tree at ``start`` and the pyproject.toml they came from."""
    path = os.path.join(project_root(os.path.abspath(start)), "pyproject.toml")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return {}, None
    try:
        table = _tool_table(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # TOMLDecodeError is a ValueError
        raise UsageError(f"{path}: cannot parse [tool.pycache-tool]: {exc}") from None
    settings: dict[str, Any] = {}
    for key, value in table.items():
        expected = KEYS.get(key)
        if expected is None:
            raise UsageError(
                f"{path}: unknown key {key!r} in [tool.pycache-tool] (known: {', '.join(KEYS)})"
            )
        if expected is list:
            valid = isinstance(value, list) and all(isinstance(item, str) for item in value)
        else:
            valid = isinstance(value, expected)
        if not valid:
            kind = "a list of strings" if expected is list else expected.__name__
            raise UsageError(f"{path}: [tool.pycache-tool] {key} must be {kind}")
        settings[key] = value
        if key == "pycache-prefix" and value:
            # Like every path in a config file: relative to that file, not to the current directory.
            settings[key] = os.path.join(os.path.dirname(path), os.path.expanduser(str(value)))
    return settings, path


def _tool_table(text: str) -> dict[str, Any]:
    # Imported here: only a tree with a pyproject.toml pays for the parser.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the same parser as a package, as black, mypy and pytest use it
        import tomli as tomllib

    tool = tomllib.loads(text).get("tool", {})
    table = tool.get("pycache-tool", {}) if isinstance(tool, dict) else {}
    return table if isinstance(table, dict) else {}
