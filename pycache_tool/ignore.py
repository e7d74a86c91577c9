"""Ignore rules the way git applies them: nested .gitignore files, info/exclude, --exclude.

pathspec is imported only when some rule is actually in play: it costs more to import than
matching a whole ordinary checkout does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec


class Rules(NamedTuple):
    """One source of patterns, anchored at ``base`` (an absolute directory)."""

    base: str
    spec: GitIgnoreSpec


def compile_patterns(lines: list[str]) -> GitIgnoreSpec | None:
    """Compile gitignore lines, dropping any line pathspec rejects (git drops them silently too)."""
    lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return None
    from pathspec import GitIgnoreSpec

    try:
        return GitIgnoreSpec.from_lines(lines)
    except ValueError:
        return GitIgnoreSpec.from_lines([line for line in lines if _valid(line)])


def _valid(line: str) -> bool:
    from pathspec import GitIgnoreSpec

    try:
        GitIgnoreSpec.from_lines([line])
    except ValueError:
        return False
    return True


def read_patterns(path: str) -> GitIgnoreSpec | None:
    """Read an ignore file; an unreadable or missing one has no opinion."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None
    return compile_patterns(text.splitlines())


class IgnoreStack:
    """The rules in force in one directory, lowest precedence first; immutable, shared by children."""

    __slots__ = ("_rules", "_overrides")

    def __init__(self, rules: tuple[Rules, ...] = (), overrides: Rules | None = None) -> None:
        self._rules = rules
        self._overrides = overrides  # --exclude: above every file

    def push(self, base: str, spec: GitIgnoreSpec | None) -> IgnoreStack:
        if spec is None:
            return self
        return IgnoreStack((*self._rules, Rules(base, spec)), self._overrides)

    def fresh(self) -> IgnoreStack:
        """A nested repository: only the command-line rules carry over."""
        return IgnoreStack((), self._overrides)

    def __bool__(self) -> bool:
        return bool(self._rules) or self._overrides is not None

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Does the deepest source of rules with an opinion on ``path`` ignore it?"""
        if self._overrides is not None:
            verdict = _decide(self._overrides, path, is_dir)
            if verdict is not None:
                return verdict
        for rules in reversed(self._rules):
            verdict = _decide(rules, path, is_dir)
            if verdict is not None:
                return verdict
        return False


def _decide(rules: Rules, path: str, is_dir: bool) -> bool | None:
    # Walker paths are absolute and normalised, so the base is a plain string prefix.
    prefix = rules.base if rules.base.endswith(os.sep) else rules.base + os.sep
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix) :]
    if os.sep != "/":  # pragma: no cover - POSIX is what runs the suite
        rel = rel.replace(os.sep, "/")
    result = rules.spec.check_file(rel + "/" if is_dir else rel)
    return result.include
