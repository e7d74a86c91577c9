"""Ignore rules the way git applies them: nested .gitignore files, info/exclude,
core.excludesFile, --exclude; never to what git tracks.

Patterns are git's own grammar (``wildmatch.py``), matched against the path itself: the
walker prunes an ignored directory itself, so a pattern decides only for the path it
matches, the last matching pattern of the deepest file with an opinion winning.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, NamedTuple

from pycache_tool.scanning.wildmatch import Linear, Pattern, parse_lines

if TYPE_CHECKING:
    from pycache_tool.scanning.gitfiles import Repository


class _Compiled(NamedTuple):
    """The patterns of one file for one subject (the last path component, or the path below
    the file's directory), as one regular expression, last pattern first.

    Each alternative is a group: the first that matches (``lastindex``) is the last
    matching pattern, and ``verdicts[lastindex]`` its (pattern index, ignored). The few
    patterns a regular expression would match too slowly are matched one by one.
    """

    regex: re.Pattern[bytes] | None
    verdicts: tuple[tuple[int, bool], ...]
    slow: tuple[tuple[int, bool, Linear], ...]  # last pattern first

    def last_match(self, path: bytes, pos: int) -> tuple[int, bool] | None:
        best = None
        if self.regex is not None:
            match = self.regex.fullmatch(path, pos)
            if match is not None and match.lastindex:
                best = self.verdicts[match.lastindex]
        for index, ignored, linear in self.slow:
            if best is not None and index < best[0]:
                break
            if linear.fullmatch(path, pos):
                return index, ignored
        return best


class Patterns:
    """One source of patterns (a file, or the command line), compiled on first use."""

    __slots__ = ("_patterns", "_compiled")

    def __init__(self, lines: list[bytes]) -> None:
        self._patterns = [Pattern(line) for line in lines]
        # (is_dir, casefold) -> (last component, path below the file's directory)
        self._compiled: dict[tuple[bool, bool], tuple[_Compiled, _Compiled]] = {}

    def decide(self, rel: str, is_dir: bool, casefold: bool = False) -> bool | None:
        """True: ignored; False: re-included by a ``!`` pattern; None: no pattern matches."""
        compiled = self._compiled.get((is_dir, casefold))
        if compiled is None:
            compiled = self._compiled[is_dir, casefold] = self._compile(is_dir, casefold)
        if os.sep != "/":  # pragma: no cover - POSIX is what runs the suite
            rel = rel.replace(os.sep, "/")
        path = os.fsencode(rel)
        best = compiled[0].last_match(path, path.rfind(b"/") + 1)
        found = compiled[1].last_match(path, 0)
        if found is not None and (best is None or found[0] > best[0]):
            best = found
        return None if best is None else best[1]

    def _compile(self, is_dir: bool, casefold: bool) -> tuple[_Compiled, _Compiled]:
        regexes: dict[bool, list[bytes]] = {True: [], False: []}
        verdicts: dict[bool, list[tuple[int, bool]]] = {True: [(-1, False)], False: [(-1, False)]}
        slow: dict[bool, list[tuple[int, bool, Linear]]] = {True: [], False: []}
        for index in reversed(range(len(self._patterns))):
            pattern = self._patterns[index]
            if pattern.dir_only and not is_dir:
                continue
            matcher = pattern.matcher(casefold)
            if isinstance(matcher, Linear):
                slow[pattern.basename].append((index, not pattern.negative, matcher))
            elif matcher is not None:
                regexes[pattern.basename].append(b"(" + matcher + b")")
                verdicts[pattern.basename].append((index, not pattern.negative))

        def join(basename: bool) -> _Compiled:
            parts = regexes[basename]
            regex = re.compile(b"|".join(parts), re.DOTALL) if parts else None
            return _Compiled(regex, tuple(verdicts[basename]), tuple(slow[basename]))

        return join(True), join(False)


class Rules(NamedTuple):
    """One source of patterns, anchored at ``base`` (an absolute directory)."""

    base: str
    spec: Patterns


def compile_patterns(patterns: list[str]) -> Patterns | None:
    """Patterns given one by one (``--exclude``): as ``git ls-files -x`` takes them, so no
    comments and no trimming."""
    lines = [os.fsencode(p) for p in patterns if p]
    return Patterns(lines) if lines else None


def read_patterns(path: str | None, *, in_tree: bool = False) -> Patterns | None:
    """Read an ignore file; an unreadable or missing one has no opinion.

    ``in_tree``: a work-tree .gitignore, which git (2.32+) does not read when it is a symlink.
    """
    if path is None or (in_tree and os.path.islink(path)):
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    lines = parse_lines(data)
    return Patterns(lines) if lines else None


class PatternUse:
    """Which of some patterns (``--exclude``, taken one by one) have matched a path so far:
    one that matches nothing the walk sees is most likely written relative to the wrong
    directory."""

    def __init__(self, patterns: list[str]) -> None:
        self._pending = {p: Patterns([os.fsencode(p)]) for p in dict.fromkeys(patterns) if p}

    def __bool__(self) -> bool:
        return bool(self._pending)

    @property
    def unmatched(self) -> list[str]:
        return list(self._pending)

    def see(self, base: str, path: str, is_dir: bool) -> None:
        """``path`` was walked; ``base`` is the directory the patterns are relative to."""
        prefix = base if base.endswith(os.sep) else base + os.sep
        if not path.startswith(prefix):
            return
        rel = path[len(prefix) :]
        for pattern, spec in list(self._pending.items()):
            if spec.decide(rel, is_dir) is not None:
                del self._pending[pattern]


class IgnoreStack:
    """The rules in force in one directory, lowest precedence first; immutable, shared by children.

    ``repo``: the repository the directory belongs to (what it tracks, its core.ignorecase).
    ``excluded``: the directory is ignored, and walked only for what git tracks in it: every
    untracked path below is ignored too, whatever a deeper pattern says (git reads no
    .gitignore there).
    """

    __slots__ = ("_rules", "_overrides", "repo", "excluded")

    def __init__(
        self,
        rules: tuple[Rules, ...] = (),
        overrides: Rules | None = None,
        repo: Repository | None = None,
        excluded: bool = False,
    ) -> None:
        self._rules = rules
        self._overrides = overrides  # --exclude: above every file, and tracked paths too
        self.repo = repo
        self.excluded = excluded

    def push(self, base: str, spec: Patterns | None) -> IgnoreStack:
        if spec is None:
            return self
        rules = (*self._rules, Rules(base, spec))
        return IgnoreStack(rules, self._overrides, self.repo, self.excluded)

    def fresh(self, repo: Repository | None) -> IgnoreStack:
        """A repository's top: only the command-line rules carry over."""
        return IgnoreStack((), self._overrides, repo)

    def __bool__(self) -> bool:
        return bool(self._rules) or self._overrides is not None or self.excluded

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Is ``path`` ignored? A path git tracks never is, but for ``--exclude``."""
        verdict = self._verdict(path, is_dir)
        return verdict == _FORCED or (
            verdict == _IGNORED and (self.repo is None or not self.repo.tracks(path))
        )

    def left_out(self, path: str, is_dir: bool) -> bool:
        """Does ``--exclude`` (or the configuration's ``exclude``) leave ``path`` out?"""
        if self._overrides is None:
            return False
        casefold = self.repo is not None and self.repo.ignorecase
        return bool(_decide(self._overrides, path, is_dir, casefold))

    def matched(self, path: str, is_dir: bool) -> bool:
        """Do the rules ignore ``path``, tracked or not?"""
        return self._verdict(path, is_dir) != _KEPT

    def enter(self, path: str) -> IgnoreStack | None:
        """The rules the directory ``path`` is walked with; None: it is not walked.

        An ignored directory that holds a tracked path is walked as ``excluded``.
        """
        verdict = self._verdict(path, True)
        if verdict == _KEPT:
            return self
        if verdict == _FORCED or self.repo is None or not self.repo.tracks(path):
            return None
        if self.excluded:
            return self
        return IgnoreStack(self._rules, self._overrides, self.repo, excluded=True)

    def _verdict(self, path: str, is_dir: bool) -> int:
        casefold = self.repo is not None and self.repo.ignorecase
        forced = None
        if self._overrides is not None:
            forced = _decide(self._overrides, path, is_dir, casefold)
            if forced:
                return _FORCED
        if self.excluded:
            return _IGNORED  # git: a path below an ignored directory is ignored, full stop
        if forced is False:
            return _KEPT
        for rules in reversed(self._rules):
            verdict = _decide(rules, path, is_dir, casefold)
            if verdict is not None:
                return _IGNORED if verdict else _KEPT
        return _KEPT


# What the rules say of a path. _IGNORED: by git's rules, so not if tracked; _FORCED: by
# --exclude, tracked or not.
_KEPT, _IGNORED, _FORCED = 0, 1, 2


def _decide(rules: Rules, path: str, is_dir: bool, casefold: bool) -> bool | None:
    # Walker paths are absolute and normalised, so the base is a plain string prefix.
    prefix = rules.base if rules.base.endswith(os.sep) else rules.base + os.sep
    if not path.startswith(prefix):
        return None
    return rules.spec.decide(path[len(prefix) :], is_dir, casefold)
