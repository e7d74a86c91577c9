"""git's ignore-pattern grammar, to the letter, translated to regular expressions over bytes
(or, for patterns with many stars, to an automaton that never backtracks).

git matches bytes, not characters: ``?`` and a bracket expression take one byte, case folding
(``core.ignorecase``) folds ASCII letters only, and the POSIX classes are git's own ASCII
tables, whatever the locale. Bracket expressions never match ``/``; a malformed one (unclosed,
an unknown ``[:class:]``) or a pattern ending in a lone backslash matches nothing, as in
git's wildmatch. A reversed range adds nothing but its first byte, which git reads as a
member before it sees the dash (``[b-a]`` is ``[b]``).

Three details of git's ``dir.c`` are kept on purpose: a pattern without a slash (a trailing
one aside) matches the last path component; otherwise the path below the pattern's
directory, a leading ``/`` only anchoring it; and git compares the pattern's leading
wildcard-free run literally before matching the rest, so ``**`` right after that run counts
as the start of a pattern (``a**/b`` matches ``a/x/b``).
"""

from __future__ import annotations

import re
from typing import Union

_BACKSLASH, _SLASH, _STAR, _QUESTION = 0x5C, 0x2F, 0x2A, 0x3F
_OPEN, _CLOSE, _COLON, _DASH, _BANG, _CARET = 0x5B, 0x5D, 0x3A, 0x2D, 0x21, 0x5E
_SPECIAL = frozenset(b"*?[\\")  # git's is_glob_special
_BYTES = range(1, 256)  # a path never holds NUL

_UPPER = frozenset(range(0x41, 0x5B))
_LOWER = frozenset(range(0x61, 0x7B))
_DIGIT = frozenset(range(0x30, 0x3A))
_CLASSES: dict[bytes, frozenset[int]] = {
    b"alnum": _UPPER | _LOWER | _DIGIT,
    b"alpha": _UPPER | _LOWER,
    b"blank": frozenset(b" \t"),
    b"cntrl": frozenset([*range(0x20), 0x7F]),
    b"digit": _DIGIT,
    b"graph": frozenset(range(0x21, 0x7F)),
    b"lower": _LOWER,
    b"print": frozenset(range(0x20, 0x7F)),
    b"punct": frozenset(range(0x21, 0x7F)) - _UPPER - _LOWER - _DIGIT,
    b"space": frozenset(b" \t\n\r"),  # git's own table: no \v, no \f
    b"upper": _UPPER,
    b"xdigit": _DIGIT | frozenset(b"abcdefABCDEF"),
}


def parse_lines(data: bytes) -> list[bytes]:
    """The patterns of an ignore file, read as git reads one.

    A UTF-8 byte-order mark at the start is dropped; lines end at ``\\n`` only, one ``\\r``
    before it dropped; a ``#`` in the first column starts a comment; a NUL ends the line
    (git reads C strings); trailing spaces go unless escaped, other whitespace stays.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    patterns = []
    for raw in data.split(b"\n"):
        if not raw or raw[0] == 0x23:  # "#"
            continue
        line = raw[:-1] if raw.endswith(b"\r") else raw
        line = _trim_spaces(line.split(b"\0", 1)[0])
        if line:
            patterns.append(line)
    return patterns


def _trim_spaces(line: bytes) -> bytes:
    last_space = -1
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == 0x20:
            if last_space < 0:
                last_space = i
        else:
            if c == _BACKSLASH:
                i += 1
                if i == n:
                    return line  # a lone trailing backslash keeps the spaces before it
            last_space = -1
        i += 1
    return line if last_space < 0 else line[:last_space]


# A pattern is a sequence of tokens: a set of bytes (one byte from the set) or a star.
SINGLE, CROSS, DIRS = "*", "**", "**/"  # [^/]*, .*, and (?:.*/)?: zero or more directories
Token = Union[frozenset[int], str]
_ANY_BUT_SLASH = frozenset(_BYTES) - {_SLASH}


class Pattern:
    """One pattern line, split the way git's ``parse_path_pattern`` splits it."""

    __slots__ = ("body", "negative", "dir_only", "basename")

    def __init__(self, line: bytes) -> None:
        self.negative = line.startswith(b"!")
        if self.negative:
            line = line[1:]
        self.dir_only = line.endswith(b"/")
        if self.dir_only:
            line = line[:-1]
        self.basename = b"/" not in line
        if not self.basename and line.startswith(b"/"):
            line = line[1:]
        self.body = line

    def matcher(self, casefold: bool) -> bytes | Linear | None:
        """What the pattern matches, the last path component (``basename``) or the path
        relative to the pattern's base: a regular expression (DOTALL, full match), or a
        ``Linear`` matcher when a regular expression could backtrack for long; None: nothing.
        """
        if not self.body:
            return None
        start = 0
        if not self.basename:
            start = next((i for i, c in enumerate(self.body) if c in _SPECIAL), len(self.body))
        tokens = tokenize(self.body, casefold=casefold, pathname=not self.basename, start=start)
        if tokens is None:
            return None
        stars = [t for t in tokens[:-1] if isinstance(t, str)]
        if len(stars) > 2 or len([t for t in stars if t != SINGLE]) > 1:
            # Stars before the last token multiply the positions a regular expression tries
            # (``*a*a*a*a*b`` on a long name: hours). Two of them, at most one crossing
            # directories, stay within a name's length squared.
            return Linear(tokens)
        return b"".join(_REGEX[t] if isinstance(t, str) else _char_class(t) for t in tokens)


_REGEX = {SINGLE: b"[^/]*", CROSS: b".*", DIRS: b"(?:.*/)?"}


def tokenize(pattern: bytes, *, casefold: bool, pathname: bool, start: int) -> list[Token] | None:
    """git's wildmatch grammar as tokens; None when nothing can match.

    ``pathname``: git's WM_PATHNAME, where ``**`` between slashes (or at an end) crosses
    directories. Without it (a last path component) no wildcard crosses a ``/``, so every
    star is one component's. ``start``: where git's wildmatch call begins (see the module).
    """
    tokens: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        token: Token
        if c == _BACKSLASH:
            if i + 1 == n:
                return None
            token = _literal(pattern[i + 1], casefold=casefold, escaped=True)
            i += 2
        elif c == _QUESTION:
            token = _ANY_BUT_SLASH
            i += 1
        elif c == _STAR:
            j = i + 1
            while j < n and pattern[j] == _STAR:
                j += 1
            token = SINGLE
            if (
                pathname
                and j - i > 1
                and (i - 1 < start or pattern[i - 1] == _SLASH)
                and (j == n or pattern[j] == _SLASH or pattern[j : j + 2] == b"\\/")
            ):
                token = CROSS
                if j < n and pattern[j] == _SLASH:
                    token = DIRS
                    j += 1
            i = j
            if tokens and tokens[-1] == DIRS and token in (DIRS, CROSS):
                tokens.pop()  # "**/**/" is "**/", "**/**" is "**"
        elif c == _OPEN:
            parsed = _bracket(pattern, i + 1, casefold)
            if parsed is None:
                return None
            token, i = parsed
        else:
            token = _literal(c, casefold=casefold, escaped=False)
            i += 1
        if not token:
            return None  # an empty set: no byte matches
        tokens.append(token)
    return tokens


class Linear:
    """A pattern's tokens as a nondeterministic automaton, run once over the path: time
    linear in its length, whatever the stars."""

    __slots__ = ("_tokens",)

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens

    def fullmatch(self, path: bytes, pos: int = 0) -> bool:
        tokens = self._tokens
        states = self._closure({0})
        for c in path[pos:]:
            reached = set()
            for i in states:
                token = tokens[i] if i < len(tokens) else None
                if token is None:
                    continue
                if token == SINGLE:
                    if c != _SLASH:
                        reached.add(i)
                elif token == CROSS:
                    reached.add(i)
                elif token == DIRS:
                    reached.add(i)
                    if c == _SLASH:
                        reached.add(i + 1)
                elif c in token:
                    reached.add(i + 1)
            if not reached:
                return False
            states = self._closure(reached)
        return len(tokens) in states

    def _closure(self, states: set[int]) -> set[int]:
        # A star may match nothing: its state leads on to the next one.
        closed = set(states)
        for i in states:
            while i < len(self._tokens) and isinstance(self._tokens[i], str):
                i += 1
                closed.add(i)
        return closed


def _fold(c: int) -> int:
    return c + 0x20 if c in _UPPER else c


def _literal(c: int, *, casefold: bool, escaped: bool) -> frozenset[int]:
    if not casefold:
        return frozenset((c,))
    # git lowers the path's byte, and the pattern's byte unless a backslash escaped it: an
    # escaped capital then matches nothing.
    want = c if escaped else _fold(c)
    return frozenset(t for t in _BYTES if _fold(t) == want)


def _bracket(pattern: bytes, i: int, casefold: bool) -> tuple[frozenset[int], int] | None:
    """The bytes ``[...]`` (its body starting at ``i``) matches, and the index after it."""
    n = len(pattern)

    def at(k: int) -> int:
        return pattern[k] if k < n else 0

    ch = at(i)
    negated = ch in (_BANG, _CARET)
    if negated:
        i += 1
        ch = at(i)
    singles: set[int] = set()
    ranges: list[tuple[int, int]] = []
    classes: list[bytes] = []
    prev = 0
    while True:  # a "]" first is a member, not the end
        if not ch:
            return None  # unclosed
        if ch == _BACKSLASH:
            i += 1
            ch = at(i)
            if not ch:
                return None
            singles.add(ch)
        elif ch == _DASH and prev and at(i + 1) and at(i + 1) != _CLOSE:
            i += 1
            ch = at(i)
            if ch == _BACKSLASH:
                i += 1
                ch = at(i)
                if not ch:
                    return None
            ranges.append((prev, ch))
            ch = 0  # a range cannot start another
        elif ch == _OPEN and at(i + 1) == _COLON:
            end = pattern.find(b"]", i + 2)
            if end < 0:
                return None
            if end - i - 3 < 0 or pattern[end - 1] != _COLON:
                singles.add(ch)  # not a class: "[" is a member and ":" comes next
            else:
                name = pattern[i + 2 : end - 1]
                if name not in _CLASSES:
                    return None
                classes.append(name)
                i = end
                ch = 0
        else:
            singles.add(ch)
        prev = ch
        i += 1
        ch = at(i)
        if ch == _CLOSE:
            break

    def member(t: int) -> bool:
        c = _fold(t) if casefold else t
        if c in singles:
            return True
        for lo, hi in ranges:
            if lo <= c <= hi or (casefold and c in _LOWER and lo <= c - 0x20 <= hi):
                return True
        for name in classes:
            if c in _CLASSES[name] or (casefold and name == b"upper" and c in _LOWER):
                return True
        return False

    members = frozenset(t for t in _BYTES if member(t) != negated and t != _SLASH)
    return members, i + 1


def _char_class(members: frozenset[int]) -> bytes:
    if len(members) == 1:
        return re.escape(bytes(members))
    negate = len(members) > 128
    if negate:
        members = frozenset(range(256)) - members
    spans: list[bytes] = []
    ordered = sorted(members)
    lo = prev = ordered[0]
    for c in [*ordered[1:], -1]:
        if c == prev + 1:
            prev = c
            continue
        spans.append(b"\\x%02x" % lo if lo == prev else b"\\x%02x-\\x%02x" % (lo, prev))
        lo = prev = c
    return b"[" + (b"^" if negate else b"") + b"".join(spans) + b"]"
