"""The pattern grammar alone (``wildmatch.py`` through ``read_patterns`` and ``decide``)
against ``git check-ignore``: each byte against each class, range and case rule, and random
patterns on random paths."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycache_tool.scanning.ignore import read_patterns
from tests.test_ignore_git import git, make_tree

pytestmark = [
    pytest.mark.git,
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]


@pytest.fixture(scope="module")
def grammar_repos(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """Two repositories, core.ignorecase false and true, for the grammar tests to work in."""
    repos = {}
    for casefold in (False, True):
        repos[casefold] = tmp_path_factory.mktemp("grammar")
        make_tree(repos[casefold], {}, config={"core.ignorecase": str(casefold).lower()})
    return repos


def grammar_differences(
    repo: Path, patterns: Sequence[bytes], paths: Sequence[bytes], casefold: bool = False
) -> list[tuple[bytes, bytes, bool]]:
    """(pattern, path, git's verdict) wherever ``read_patterns`` + ``Patterns.decide`` and
    ``git check-ignore`` disagree. Each pattern gets a directory and a .gitignore of its own;
    the paths need not exist (every component but the last is taken as a directory)."""
    root = Path(tempfile.mkdtemp(dir=repo))
    queries: list[bytes] = []
    for i, pattern in enumerate(patterns):
        (root / f"p{i}").mkdir()
        (root / f"p{i}" / ".gitignore").write_bytes(pattern + b"\n")
        queries += [b"p%d/%s" % (i, path) for path in paths]
    stdin = b"".join(q + b"\0" for q in queries)
    out = git(root, "check-ignore", "--no-index", "--stdin", "-z", stdin=stdin, ok=(0, 1))
    ignored = set(filter(None, out.split(b"\0")))
    wrong = []
    for i, pattern in enumerate(patterns):
        spec = read_patterns(str(root / f"p{i}" / ".gitignore"))
        for path in paths:
            parts = os.fsdecode(path).split("/")
            verdict = False
            for depth in range(1, len(parts) + 1):
                is_dir = depth < len(parts)
                if spec is not None and spec.decide("/".join(parts[:depth]), is_dir, casefold):
                    verdict = True
                    break
            if verdict != (b"p%d/%s" % (i, path) in ignored):
                wrong.append((pattern, path, not verdict))
    return wrong


CLASSES = [b"alnum", b"alpha", b"blank", b"cntrl", b"digit", b"graph"]
CLASSES += [b"lower", b"print", b"punct", b"space", b"upper", b"xdigit"]


@pytest.mark.parametrize("casefold", [False, True], ids=["exact", "ignorecase"])
def test_every_byte_against_git(grammar_repos: dict[bool, Path], casefold: bool) -> None:
    """POSIX classes, ranges, negation, case folding and ``?``: each against every byte."""
    patterns = [b"x[[:%s:]]" % c for c in CLASSES] + [b"x[![:%s:]]" % c for c in CLASSES]
    patterns += [b"x[A-Z]", b"x[Z-a]", b"x[^a-z]", b"x[A]", b"x[a]", b"x\\A", b"x\\a", b"xA"]
    patterns += [b"x?", b"x*", b"x[\x80-\xff]", b"x[\\]]", b"x[]-a]", b"x[b-a]", b"x[!b-a]"]
    paths = [b"x" + bytes([c]) for c in range(1, 256) if c != 0x2F]
    assert grammar_differences(grammar_repos[casefold], patterns, paths, casefold) == []


TOKENS = ["a", "b", "B", "/", "*", "**", "?", "[", "]", "!", "^", "-", "\\", " ", "\t", "\xe9"]
TOKENS += ["[:alpha:]", "[:upper:]", "[:digit:]", "[:nope:]", "1", ".", "#", "\r"]
NAME_TOKENS = ["a", "b", "A", "B", "1", "-", "]", "[", "\xe9", "!", "*", "?", "\\", " ", "#"]
patterns_st = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=7).map("".join)
names_st = st.lists(st.sampled_from(NAME_TOKENS), min_size=1, max_size=3).map("".join)
paths_st = st.lists(names_st, min_size=1, max_size=3).map("/".join)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    derandomize=True,
)
@given(
    patterns=st.lists(patterns_st, min_size=1, max_size=12),
    paths=st.lists(paths_st, min_size=1, max_size=12, unique=True),
    casefold=st.booleans(),
)
def test_random_patterns_against_git(
    grammar_repos: dict[bool, Path], patterns: list[str], paths: list[str], casefold: bool
) -> None:
    encoded = [p.encode() for p in patterns], [p.encode() for p in paths]
    assert grammar_differences(grammar_repos[casefold], *encoded, casefold) == []


def test_patterns_that_backtrack_against_git(grammar_repos: dict[bool, Path]) -> None:
    """Many stars on long names: a regular expression tries each star at every position
    (hours on these); git answers at once, and so must the matcher, with git's answers."""
    patterns = [b"*a" * 12 + b"*b", b"*a" * 12 + b"*", b"*?*?*?*?*?*?*?*?x", b"*[ab]" * 9 + b"c"]
    patterns += [b"**/a/**/a/**/a/**/b", b"**/a/**/a/**/a/**", b"a*/**/*a*/**/*a*b", b"**/*a*a*b"]
    paths = [b"a" * 200, b"a" * 199 + b"b", b"ab" * 100, b"a/" * 120 + b"b"]
    paths += [b"a/" * 120 + b"c", b"a" * 100 + b"/" + b"a" * 100 + b"b"]
    for casefold in (False, True):
        assert grammar_differences(grammar_repos[casefold], patterns, paths, casefold) == []
