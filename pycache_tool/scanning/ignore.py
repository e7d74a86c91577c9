"""Ignore rules the way git applies them: nested .gitignore files, info/exclude, --exclude.

pathspec is imported only when some rule is actually in play: it costs more to import than
matching a whole ordinary checkout does.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec


class Patterns:
    """One ignore file's patterns, each matched the way git matches it: against the path itself.

    pathspec's ``GitIgnoreSpec.check_file`` answers for a *file* with its whole ancestry in one
    file of patterns: a directory pattern also matches everything below it, and a file-pattern
    match outranks a directory-pattern match. Across nested files that goes wrong: a deeper
    ``!d/`` would "decide" for ``d/x.py`` (git: no opinion, so a parent ``*.py`` decides), and
    ``*`` would beat a later ``!*/`` on a directory. The walker prunes ignored directories
    itself, so here a pattern counts only when it matches the path itself, last match winning.
    pathspec marks a match through a directory component with the ``ps_d`` group; a match of
    the path itself has no ``ps_d`` (files), or its ``ps_d`` is the path's final slash (dirs).
    """

    __slots__ = ("_checks",)

    def __init__(self, spec: GitIgnoreSpec) -> None:
        from pathspec.pattern import RegexPattern

        checks: list[tuple[re.Pattern[str], bool]] = []
        for pattern in spec.patterns:
            if not isinstance(pattern, RegexPattern) or pattern.include is None:
                continue
            regex = pattern.regex
            if regex is None:
                continue
            if "ps_d" in regex.groupindex:
                # Only a ps_d that ends the path can be a match of the path itself.
                regex = re.compile(rf"(?:{regex.pattern})(?(ps_d)\Z)", regex.flags)
            checks.append((regex, pattern.include))
        checks.reverse()  # the last matching pattern decides
        self._checks = checks

    def decide(self, rel: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by a ``!`` pattern; None: no pattern matches."""
        for regex, include in self._checks:
            match = regex.search(rel)
            if match is not None and match.groupdict().get("ps_d") is None:
                return include
            if is_dir:
                match = regex.search(rel + "/")
                if match is not None and match.groupdict().get("ps_d") is not None:
                    if match.end("ps_d") == len(rel) + 1:
                        return include
        return None


class Rules(NamedTuple):
    """One source of patterns, anchored at ``base`` (an absolute directory)."""

    base: str
    spec: Patterns


def compile_patterns(lines: list[str]) -> Patterns | None:
    """Compile gitignore lines, dropping any line pathspec rejects (git drops them silently too)."""
    lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return None
    from pathspec import GitIgnoreSpec

    try:
        spec = GitIgnoreSpec.from_lines(lines)
    except ValueError:
        spec = GitIgnoreSpec.from_lines([line for line in lines if _valid(line)])
    return Patterns(spec)


def _valid(line: str) -> bool:
    from pathspec import GitIgnoreSpec

    try:
        GitIgnoreSpec.from_lines([line])
    except ValueError:
        return False
    return True


def read_patterns(path: str, *, in_tree: bool = False) -> Patterns | None:
    """Read an ignore file; an unreadable or missing one has no opinion.

    ``in_tree``: a work-tree .gitignore, which git (2.32+) does not read when it is a symlink.
    """
    if in_tree and os.path.islink(path):
        return None
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

    def push(self, base: str, spec: Patterns | None) -> IgnoreStack:
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
    return rules.spec.decide(rel, is_dir)
