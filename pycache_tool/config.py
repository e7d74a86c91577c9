"""Defaults from ``[tool.pycache-tool]`` in the project's pyproject.toml."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from .errors import UsageError
from .walk import project_root

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
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot parse [tool.pycache-tool]: {exc}") from None
    settings: dict[str, Any] = {}
    for key, value in table.items():
        expected = KEYS.get(key)
        if expected is None:
            raise UsageError(
                f"{path}: unknown key {key!r} in [tool.pycache-tool] (known: {', '.join(KEYS)})"
            )
        if not isinstance(value, expected) or (
            expected is list and not all(isinstance(item, str) for item in value)
        ):
            kind = "a list of strings" if expected is list else expected.__name__
            raise UsageError(f"{path}: [tool.pycache-tool] {key} must be {kind}")
        settings[key] = value
    return settings, path


def _tool_table(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        tool = tomllib.loads(text).get("tool", {})
        table = tool.get("pycache-tool", {}) if isinstance(tool, dict) else {}
        return table if isinstance(table, dict) else {}
    return parse_table(text, "tool.pycache-tool")


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=\s*(.*)$")
_TOKEN = re.compile(r"\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*'|true|false|,|\[|\]|#[^\n]*)", re.S)


def parse_table(text: str, name: str) -> dict[str, Any]:
    """Read one table of strings, booleans and string lists (Python 3.9-3.10 have no tomllib)."""
    table: dict[str, Any] = {}
    inside = False
    lines = iter(text.splitlines())
    for line in lines:
        header = _HEADER.match(line)
        if header:
            inside = header.group(1).replace('"', "") == name
            continue
        if not inside or not line.strip() or line.lstrip().startswith("#"):
            continue
        assign = _ASSIGN.match(line)
        if not assign:
            raise ValueError(f"cannot read line {line.strip()!r}")
        value = assign.group(2)
        while value.count("[") > value.count("]"):
            value += "\n" + next(lines, "]")
        table[assign.group(1).strip('"')] = _value(value)
    return table


def _value(text: str) -> Any:
    tokens = [t for t in _TOKEN.findall(text) if not t.startswith("#")]
    if "".join(_TOKEN.sub("", text).split()):
        raise ValueError(f"unsupported value {text.strip()!r}")
    if tokens == ["true"] or tokens == ["false"]:
        return tokens[0] == "true"
    if len(tokens) == 1 and tokens[0][0] in "\"'":
        return _string(tokens[0])
    if tokens and tokens[0] == "[" and tokens[-1] == "]":
        return [_string(t) for t in tokens[1:-1] if t != ","]
    raise ValueError(f"unsupported value {text.strip()!r}")


def _string(token: str) -> str:
    if token[0] == "'":
        return token[1:-1]
    return token[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
