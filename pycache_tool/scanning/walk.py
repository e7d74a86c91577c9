"""The one tree walker: os.scandir, never following symlinks, pruning what git would ignore.

It yields one ``Listing`` per walked directory (with its ``__pycache__`` listed alongside),
``Ghost`` for the topmost directories that hold nothing but caches (or nothing at all, inside
a package), and ``Unlistable`` for directories it could not read. Ignore rules prune source directories only: ``__pycache__``
is always listed, whatever the ignore files say.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple, Union

from pycache_tool.scanning.gitfiles import Repository, work_tree_of
from pycache_tool.scanning.ignore import (
    IgnoreStack,
    Patterns,
    Rules,
    compile_patterns,
    read_patterns,
)

VCS_DIRS = frozenset({".git", ".hg", ".svn"})
PYCACHE = "__pycache__"


class Listing(NamedTuple):
    """One directory, by name, in name order (the same report on every file system).

    Names only, never ``os.DirEntry`` objects: a directory of 200,000 caches is held as its
    names, a fraction of what the entries (their paths, and the stat each one caches) cost.
    """

    path: str  # absolute, normalised
    files: list[str]  # regular files (by the directory entry's type, no stat)
    others: list[str]  # every other entry that is not a real directory: symlinks, FIFOs, ...
    dirs: list[str]  # the real directories other than __pycache__, walked or not
    pycache: list[str] | None  # regular files in path/__pycache__, if that is a real directory
    pycache_others: list[str]  # its other entries: symlinks, directories, FIFOs (never read)
    pycache_error: OSError | None
    rules: IgnoreStack  # the rules in force for this directory's files
    pycache_link: bool = False  # path/__pycache__ is a symlink (in ``others``, never followed)


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
    one_file_system: bool = False,
) -> Iterator[Event]:
    """Walk ``root`` (absolute, normalised, a real directory) depth first, in name order.

    Directories in ``skip`` (a pycache_prefix tree inside the root) are never entered, nor
    those more than ``max_depth`` levels below the root (0: the root alone; None: no limit);
    with ``one_file_system``, neither are directories on another device than the root (mount
    points: ``find -xdev``), ``__pycache__`` included.
    """
    frames: list[_Frame] = []
    device = _device(root) if one_file_system else None
    listed = _list(root, rules, use_ignore_files, skip, device, is_root=True)
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
            listed = _list(child, inherited, use_ignore_files, skip, device, is_root=False)
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
    device: int | None,
    *,
    is_root: bool,
) -> Unlistable | _Listed:
    files: list[str] = []
    others: list[str] = []
    dirs: list[str] = []  # a package shadows a module of its name, even in an ignored directory
    has_pycache = pycache_link = has_git = has_gitignore = package = False
    try:
        with os.scandir(path) as it:
            for entry in it:
                name = entry.name
                # The directory entry's own type where the file system gives one: no stat.
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    regular = not is_dir and entry.is_file(follow_symlinks=False)
                except OSError:
                    is_dir = regular = False
                if is_dir:
                    if name == PYCACHE:
                        has_pycache = True
                    else:
                        dirs.append(name)
                elif regular:
                    files.append(name)
                else:
                    others.append(name)
                    if name == PYCACHE:
                        pycache_link = _is_link(entry)
                if name[0] == ".":
                    has_git = has_git or name == ".git"
                    has_gitignore = has_gitignore or name == ".gitignore"
                elif name[0] == "_":
                    package = package or name in ("__init__.py", "__init__.pyc")
    except OSError as exc:
        return Unlistable(path, exc)
    rules = inherited
    if use_ignore_files:
        if has_git:
            rules = repository_rules(path, rules)  # a nested repository has rules of its own
        if has_gitignore and not rules.excluded:
            spec = read_patterns(os.path.join(path, ".gitignore"), in_tree=True)
            # A virtualenv's "*" .gitignore hides it from git; naming it as a PATH means "look inside".
            # A repository's own top-level "*" .gitignore (a whitelist: "*", "!*.py") is no
            # virtualenv: git applies it there, and so do we.
            if not (is_root and not has_git and spec is not None and ignores_everything(spec)):
                rules = rules.push(path, spec)
    pycache: list[str] | None = None
    pycache_others: list[str] = []
    pycache_error: OSError | None = None
    other_device = has_pycache and not _on(os.path.join(path, PYCACHE), device)
    if other_device:
        has_pycache = False  # not entered: it holds something all the same
    if has_pycache:
        try:
            pycache = []
            with os.scandir(os.path.join(path, PYCACHE)) as it:
                for entry in it:
                    (pycache if _is_regular(entry) else pycache_others).append(entry.name)
        except OSError as exc:
            pycache, pycache_others, pycache_error = None, [], exc
        else:
            pycache.sort()
            pycache_others.sort()
    files.sort()
    others.sort()
    dirs.sort()
    subdirs: list[tuple[str, IgnoreStack]] = []
    ignored: list[Ignored] = []
    candidate = not is_root and not files and not others and not other_device
    for name in dirs:
        child_path = os.path.join(path, name)
        child = None
        if name not in VCS_DIRS and child_path not in skip:
            child = rules.enter(child_path) if rules else rules
            if child is None:
                ignored.append(Ignored(child_path, rules.left_out(child_path, True)))
            elif not _on(child_path, device):
                child = None  # a mount point: not walked, not reported
        if child is None:
            candidate = False
        else:
            subdirs.append((child_path, child))
    subdirs.reverse()
    listing = Listing(
        path, files, others, dirs, pycache, pycache_others, pycache_error, rules, pycache_link
    )
    return _Listed(listing, subdirs, candidate, has_pycache, package, ignored)


def _is_regular(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def _device(path: str) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None  # the listing will say why


def _on(directory: str, device: int | None) -> bool:
    """Is ``directory`` on ``device`` (None: any)? One lstat, only with --one-file-system."""
    if device is None:
        return True
    try:
        return os.lstat(directory).st_dev == device
    except OSError:
        return True  # gone or unreadable: listing it says so


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
    return work_tree_of(os.path.dirname(root))


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
