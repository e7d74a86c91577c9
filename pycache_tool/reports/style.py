"""Colour for a person at a terminal; plain text for pipes, files, CI logs and NO_COLOR."""

from __future__ import annotations

import os
from typing import Literal, TextIO

Style = Literal["red", "yellow", "green", "bold", "dim"]
_CODES: dict[str, str] = {"red": "31", "yellow": "33", "green": "32", "bold": "1", "dim": "2"}


def use_color(stream: TextIO) -> bool:
    """https://no-color.org: a non-empty NO_COLOR turns colour off, and so do TERM=dumb and a
    stream that is not a terminal."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, style: Style, color: bool) -> str:
    """``text`` wrapped in the ANSI code for ``style`` when ``color`` is on, else unchanged."""
    return f"\033[{_CODES[style]}m{text}\033[0m" if color else text
