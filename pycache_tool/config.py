"""Defaults from ``[tool.pycache-tool]`` in the project's pyproject.toml."""

from __future__ import annotations

import os
import shlex
import shutil
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


def trusted_interpreters(entries: list[str], source: str | None) -> list[str]:
    """The ``python`` entries of the configuration at ``source``, each as an absolute path
    (with the options that follow it, if any), if running it cannot run the checkout's code.

    The trust model: a checkout's configuration is read, never obeyed blindly; running any
    command in a cloned repository must be as safe as ``git status``. An interpreter it names
    runs only when it resolves outside the checkout: an absolute path (``~`` expanded) outside
    the project's directory and the git work tree holding it, or a bare name found on an
    absolute entry of ``PATH`` (the user's, not the checkout's). A relative path, a path into
    the checkout, or a name only a relative ``PATH`` entry (``.``) finds is a usage error: the
    user may still give it on the command line (``--python``), which runs as given.
    """
    if not entries:
        return []
    assert source is not None
    checkout = _checkout_roots(os.path.dirname(source))
    return [_trusted(entry, source, checkout) for entry in entries]


def _trusted(entry: str, source: str, checkout: list[str]) -> str:
    def refuse(why: str) -> UsageError:
        return UsageError(
            f"{source}: [tool.pycache-tool] python {entry!r} {why}: a checkout's configuration"
            f" never runs a program of its own; to run it, name it on the command line"
            f" (--python)"
        )

    whole = os.path.expanduser(entry)
    if os.path.isabs(whole) and os.path.exists(whole):
        program, options = whole, []  # a path with spaces in it, as doctor takes it
    else:
        try:
            program, *options = shlex.split(entry) or [""]
        except ValueError as exc:
            raise refuse(f"cannot be read ({exc})") from None
        program = os.path.expanduser(program)
    if os.sep in program or (os.altsep and os.altsep in program):
        if not os.path.isabs(program):
            raise refuse("is a relative path, into the checkout")
        real = os.path.realpath(program)
        if any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in checkout):
            raise refuse("lies inside the checkout")
        found = program
    else:
        search = os.pathsep.join(
            d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.isabs(d)
        )
        found_on_path = shutil.which(program, path=search) if program else None
        if found_on_path is None:
            raise refuse("is not found on PATH (its absolute directories)")
        found = found_on_path
    return shlex.join([found, *options]) if options else found


def _checkout_roots(directory: str) -> list[str]:
    """The project's directory and the git work tree holding it, if any, symlinks resolved."""
    roots = [os.path.realpath(directory)]
    up = roots[0]
    while True:
        if os.path.lexists(os.path.join(up, ".git")):
            roots.append(up)
            return roots
        parent = os.path.dirname(up)
        if parent == up:
            return roots
        up = parent


def _tool_table(text: str) -> dict[str, Any]:
    # Imported here: only a tree with a pyproject.toml pays for the parser.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the same parser as a package, as black, mypy and pytest use it
        import tomli as tomllib

    tool = tomllib.loads(text).get("tool", {})
    table = tool.get("pycache-tool", {}) if isinstance(tool, dict) else {}
    return table if isinstance(table, dict) else {}
