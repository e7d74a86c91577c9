"""The one tree walker: os.scandir, never following symlinks, pruning what git would ignore.

It yields one ``Listing`` per walked directory (with its ``__pycache__`` listed alongside),
``Ghost`` for the topmost directories that hold nothing but caches (or nothing at all, inside
a package), and ``Unlistable`` for directories it could not read. Ignore rules prune source directories only: ``__pycache__``
is always listed, whatever the ignore files say.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator
from typing import NamedTuple, Union

from pycache_tool.scanning.gitfiles import Repository
from pycache_tool.scanning.ignore import (
    IgnoreStack,
    Patterns,
    Rules,
    compile_patterns,
    read_patterns,
)

VCS_DIRS = frozenset({".git", ".hg", ".svn"})
_BY_NAME = operator.attrgetter("name")  # name order: the same report on every file system
PYCACHE = "__pycache__"


class Listing(NamedTuple):
    path: str  # absolute, normalised
    files: list[os.DirEntry[str]]  # every entry that is not a real directory, symlinks included
    dirs: list[str]  # names of the real directories other than __pycache__, walked or not
    pycache: list[os.DirEntry[str]] | None  # entries of path/__pycache__, if it is a directory
    pycache_error: OSError | None
    rules: IgnoreStack  # the rules in force for this directory's files


class Ghost(NamedTuple):
    path: str
    empty: bool = False  # holds no __pycache__ at all: an empty directory inside a package


class Unlistable(NamedTuple):
    path: str
    error: OSError


class Ignored(NamedTuple):
    """A directory the ignore rules keep out of the walk (never ``.git``, never a skipped one)."""

    path: str
    excluded: bool  # by --exclude or the configuration's exclude, not by an ignore file


Event = Union[Listing, Ghost, Unlistable, Ignored]


class _Listed(NamedTuple):
    listing: Listing
    subdirs: list[tuple[str, IgnoreStack]]  # to walk, last first, and their rules
    candidate: bool
    has_cache: bool
    package: bool
    ignored: list[Ignored]


class _Frame:
    __slots__ = (
        "path",
        "pending",
        "candidate",
        "has_cache",
        "package",
        "inside",
        "pycache_below",
        "ghosts",
    )

    def __init__(
        self,
        path: str,
        pending: list[tuple[str, IgnoreStack]],
        candidate: bool,
        has_cache: bool,
        package: bool,
        inside: bool,
    ) -> None:
        self.path = path
        self.pending = pending  # child directories still to walk, last first, and their rules
        self.candidate = candidate  # nothing but __pycache__ and subdirectories so far
        self.has_cache = has_cache  # a __pycache__ here, or a ghost below
        self.package = package  # a regular package: an __init__.py or a sourceless __init__.pyc
        # Inside a package: its parent is a regular package, or a directory without an
        # __init__ inside one. An empty directory there still imports as a namespace package.
        self.inside = inside
        self.pycache_below = has_cache  # a __pycache__ here or in a ghost below
        self.ghosts: list[Ghost] = []  # topmost ghost directories below, not yet reported


def walk(
    root: str,
    rules: IgnoreStack,
    *,
    use_ignore_files: bool = True,
    skip: frozenset[str] = frozenset(),
    max_depth: int | None = None,
) -> Iterator[Event]:
    """Walk ``root`` (absolute, normalised, a real directory) depth first, in name order.

    Directories in ``skip`` (a pycache_prefix tree inside the root) are never entered, nor
    those more than ``max_depth`` levels below the root (0: the root alone; None: no limit).
    """
    frames: list[_Frame] = []
    listed = _list(root, rules, use_ignore_files, skip, is_root=True)
    if isinstance(listed, Unlistable):
        yield listed
        return
    listed = _deep_enough(listed, 0, max_depth)
    yield listed.listing
    yield from listed.ignored
    frames.append(_frame(listed, inside=False))  # nothing above a root is asked
    while frames:
        frame = frames[-1]
        if frame.pending:
            child, inherited = frame.pending.pop()
            listed = _list(child, inherited, use_ignore_files, skip, is_root=False)
            if isinstance(listed, Unlistable):
                frame.candidate = False
                yield listed
                continue
            listed = _deep_enough(listed, len(frames), max_depth)
            yield listed.listing
            yield from listed.ignored
            frames.append(_frame(listed, inside=frame.package or frame.inside))
            continue
        frames.pop()
        ghost = frame.candidate and (frame.has_cache or frame.inside)
        parent = frames[-1] if frames else None
        if ghost and parent is not None:
            parent.ghosts.append(Ghost(frame.path, empty=not frame.pycache_below))
            parent.has_cache = True
            parent.pycache_below = parent.pycache_below or frame.pycache_below
            continue
        if parent is not None:
            parent.candidate = False
        yield from frame.ghosts


def _frame(listed: _Listed, *, inside: bool) -> _Frame:
    return _Frame(
        listed.listing.path,
        listed.subdirs,
        listed.candidate,
        listed.has_cache,
        listed.package,
        inside,
    )


def _deep_enough(listed: _Listed, depth: int, max_depth: int | None) -> _Listed:
    """A directory at ``max_depth`` keeps its subdirectories unwalked; it is no ghost then,
    since what they hold is not known."""
    if max_depth is None or depth < max_depth or not listed.subdirs:
        return listed
    return listed._replace(subdirs=[], candidate=False)


def _list(
    path: str,
    inherited: IgnoreStack,
    use_ignore_files: bool,
    skip: frozenset[str],
    *,
    is_root: bool,
) -> Unlistable | _Listed:
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=_BY_NAME)
    except OSError as exc:
        return Unlistable(path, exc)
    names = {entry.name for entry in entries}
    rules = inherited
    if use_ignore_files:
        if ".git" in names:
            rules = repository_rules(path, rules)  # a nested repository has rules of its own
        if ".gitignore" in names and not rules.excluded:
            spec = read_patterns(os.path.join(path, ".gitignore"), in_tree=True)
            # A virtualenv's "*" .gitignore hides it from git; naming it as a PATH means "look inside".
            # A repository's own top-level "*" .gitignore (a whitelist: "*", "!*.py") is no
            # virtualenv: git applies it there, and so do we.
            if not (
                is_root and ".git" not in names and spec is not None and ignores_everything(spec)
            ):
                rules = rules.push(path, spec)
    files: list[os.DirEntry[str]] = []
    dirs: list[str] = []  # a package shadows a module of its name, even in an ignored directory
    subdirs: list[tuple[str, IgnoreStack]] = []
    ignored: list[Ignored] = []
    pycache: list[os.DirEntry[str]] | None = None
    pycache_error: OSError | None = None
    candidate = not is_root
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if not is_dir:
            files.append(entry)
            candidate = False
        elif entry.name == PYCACHE:
            try:
                with os.scandir(entry.path) as it:
                    pycache = sorted(it, key=_BY_NAME)
            except OSError as exc:
                pycache_error = exc
        else:
            dirs.append(entry.name)
            child = None
            if entry.name not in VCS_DIRS and entry.path not in skip:
                child = rules.enter(entry.path) if rules else rules
                if child is None:
                    ignored.append(Ignored(entry.path, rules.left_out(entry.path, True)))
            if child is None:
                candidate = False
            else:
                subdirs.append((entry.path, child))
    subdirs.reverse()
    listing = Listing(path, files, dirs, pycache, pycache_error, rules)
    package = "__init__.py" in names or "__init__.pyc" in names
    has_cache = pycache is not None or pycache_error is not None
    return _Listed(listing, subdirs, candidate, has_cache, package, ignored)


def repository_rules(top: str, rules: IgnoreStack) -> IgnoreStack:
    """The rules at the top of a repository's work tree: only the command-line rules carry
    over; core.excludesFile, then info/exclude (which outranks it), apply to the whole tree."""
    repo = Repository(top)
    rules = rules.fresh(repo).push(top, read_patterns(repo.excludes_file))
    return rules.push(top, read_patterns(os.path.join(info_dir(top), "exclude")))


def ignores_everything(spec: Patterns) -> bool:
    return bool(spec.decide("x", False) and spec.decide("x", True))


def info_dir(repo: str) -> str:
    """The ``info`` directory of the repository whose work tree is ``repo`` (handles .git files)."""
    dot_git = os.path.join(repo, ".git")
    gitdir = dot_git
    if os.path.isfile(dot_git):
        try:
            with open(dot_git, encoding="utf-8", errors="surrogateescape") as f:
                line = f.readline().strip()
        except OSError:
            line = ""
        if line.startswith("gitdir:"):
            gitdir = os.path.normpath(os.path.join(repo, line[len("gitdir:") :].strip()))
            try:
                with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as f:
                    gitdir = os.path.normpath(os.path.join(gitdir, f.read().strip()))
            except OSError:
                pass
    return os.path.join(gitdir, "info")


def root_rules(root: str, overrides: list[str] | None, use_ignore_files: bool) -> IgnoreStack:
    """The rules in force at ``root`` from the repository above it (git reads those too).

    A root that those rules ignore (tracked paths inside or not) was named on purpose, so it
    starts with none of them.
    """
    base = IgnoreStack((), None)
    if overrides:
        spec = compile_patterns(overrides)
        if spec is not None:
            base = IgnoreStack((), Rules(project_root(root), spec))
    if not use_ignore_files or os.path.lexists(os.path.join(root, ".git")):
        return base
    top = _repo_above(root)
    if top is None:
        return base
    rules = repository_rules(top, base)
    parts = os.path.relpath(root, top).split(os.sep)
    directory = top
    for part in parts:
        rules = rules.push(
            directory, read_patterns(os.path.join(directory, ".gitignore"), in_tree=True)
        )
        directory = os.path.join(directory, part)
        if rules.matched(directory, True):
            return base.fresh(rules.repo)
    return rules


def _repo_above(root: str) -> str | None:
    directory = os.path.dirname(root)
    while True:
        if os.path.lexists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def project_root(path: str) -> str:
    """The nearest directory at or above ``path`` with a .git or a pyproject.toml; else ``path``."""
    directory = path
    while True:
        if os.path.lexists(os.path.join(directory, ".git")) or os.path.isfile(
            os.path.join(directory, "pyproject.toml")
        ):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return path
        directory = parent
