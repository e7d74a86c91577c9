"""Defaults from ``[tool.pycache-tool]`` in the project's pyproject.toml."""

from __future__ import annotations

import os
import re
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
    except (ValueError, UnicodeDecodeError) as exc:
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
    if sys.version_info >= (3, 11):
        import tomllib

        tool = tomllib.loads(text).get("tool", {})
        table = tool.get("pycache-tool", {}) if isinstance(tool, dict) else {}
        return table if isinstance(table, dict) else {}
    return parse_table(text, "tool.pycache-tool")


# A [table] or [[array.of.tables]] header, and the parts of a dotted key.
_HEADER = re.compile(r"^\s*(\[\[?)(.*?)\]\]?\s*(?:#.*)?$")
_KEY_PART = re.compile(r"\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[A-Za-z0-9_-]+)\s*")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')\s*=\s*(.*)$")
_TOKEN = re.compile(r"\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*'|true|false|,|\[|\]|#[^\n]*)", re.S)


def parse_table(text: str, name: str) -> dict[str, Any]:
    """Read one table of strings, booleans and string lists (Python 3.9-3.10 have no tomllib)."""
    table: dict[str, Any] = {}
    inside = False
    wanted = name.split(".")
    lines = iter(text.splitlines())
    for line in lines:
        header = _HEADER.match(line)
        if header:
            # [[x]] is an array of tables: never ours. Keys may be quoted, spaced around dots.
            inside = header.group(1) == "[" and _dotted(header.group(2)) == wanted
            continue
        if not inside or not line.strip() or line.lstrip().startswith("#"):
            continue
        assign = _ASSIGN.match(line)
        if not assign:
            raise ValueError(f"cannot read line {line.strip()!r}")
        value = assign.group(2)
        # Count brackets outside strings and comments: "y[" or "# see [x" opens nothing.
        while _brackets(value) > 0:
            more = next(lines, None)
            if more is None:
                raise ValueError(f"unclosed array {value.strip()!r}")
            value += "\n" + more
        key = assign.group(1)
        table[_string(key) if key[0] in "\"'" else key] = _value(value)
    return table


def _dotted(text: str) -> list[str] | None:
    parts: list[str] = []
    pos = 0
    while True:
        part = _KEY_PART.match(text, pos)
        if part is None:
            return None
        token = part.group(1)
        parts.append(_string(token) if token[0] in "\"'" else token)
        pos = part.end()
        if pos == len(text):
            return parts
        if text[pos] != ".":
            return None
        pos += 1


def _brackets(text: str) -> int:
    tokens = _TOKEN.findall(text)
    return tokens.count("[") - tokens.count("]")


def _value(text: str) -> Any:
    tokens = [t for t in _TOKEN.findall(text) if not t.startswith("#")]
    if "".join(_TOKEN.sub("", text).split()):
        raise ValueError(f"unsupported value {_one_line(text)!r}")
    if tokens == ["true"] or tokens == ["false"]:
        return tokens[0] == "true"
    if len(tokens) == 1 and tokens[0][0] in "\"'":
        return _string(tokens[0])
    if tokens and tokens[0] == "[" and tokens[-1] == "]":
        # Strings separated by commas, a trailing comma allowed; anything else is not ours.
        items = tokens[1:-1]
        strings = items[0::2]
        commas = items[1::2]
        if all(t[0] in "\"'" for t in strings) and all(t == "," for t in commas):
            return [_string(t) for t in strings]
    raise ValueError(f"unsupported value {_one_line(text)!r}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _string(token: str) -> str:
    if token[0] == "'":
        return token[1:-1]
    return token[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
