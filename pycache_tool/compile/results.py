"""What a compile run is asked (``Options``) and what it gives (``CompileResult``): plain data,
which ``plan.compile_trees`` fills in and the reports read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.bytecode.pyc import Invalidation
from pycache_tool.compile import cachedir
from pycache_tool.scanning.coverage import Need
from pycache_tool.scanning.records import Record, Status

KNOWN_BAD_REASON = "broken on purpose: test data CPython ships and its own install leaves out"
# "syntax": the source's fault; "io": the file system's; "worker": it died, hung, never started
ErrorKind = Literal["syntax", "io", "worker"]


@dataclass(frozen=True)
class Options:
    """What to compile and how. ``levels`` None: each target's own -O level."""

    levels: tuple[int, ...] | None = None
    invalidation_mode: str | None = None  # None: see default_mode()
    jobs: int | None = None  # None: the CPUs this process may use
    force: bool = False
    site_packages: bool = False
    stdlib: bool = False
    strip_prefix: str | None = None
    prepend_prefix: str | None = None
    pycache_prefix: str | None = None  # None: the target's own setting (PYTHONPYCACHEPREFIX)
    exclude: tuple[str, ...] = ()
    check_excludes: tuple[str, ...] = ()  # of ``exclude``, those that should match something
    use_ignore_files: bool = True
    dry_run: bool = False
    # Seconds a worker may spend on one file, and an interpreter on answering a question;
    # None: no limit per file (as compileall), and interpreters.QUERY_TIMEOUT for questions.
    timeout: float | None = None
    deep: bool = False  # also rewrite fresh caches whose code after the header is damaged
    max_depth: int | None = None  # levels of directories below each PATH (compileall's -r)
    hardlink_dupes: bool = False  # a source's levels with the same bytes share one file
    helper: bool = False  # plan a large tree in two processes (Scan's helper): the CLI's choice
    cache: str | None = None  # the compile cache's directory (cache.py); None: none
    cache_max_size: int | None = None  # prune the cache to this many bytes after the run


class CompileError(NamedTuple):
    source: str
    cache: str
    target: str
    level: int
    kind: ErrorKind
    message: str
    line: int | None = None
    column: int | None = None


class CompileWarning(NamedTuple):
    source: str
    target: str
    level: int
    category: str  # SyntaxWarning, DeprecationWarning...
    message: str
    line: int | None


@dataclass
class TargetResult:
    target: Interpreter
    roots: list[str]
    levels: tuple[int, ...]
    sources: int = 0  # (source, level) pairs walked
    fresh: int = 0  # of those, already fresh in the requested mode: left alone (none with force)
    planned: list[Need] = field(default_factory=list)  # what needed (or would need) writing
    # Caches never written, with the reason in ``blocked``: a symlinked __pycache__ found by
    # the walk, or a symlink met while writing.
    skipped: list[Need] = field(default_factory=list)
    # The standard library's files broken on purpose (KNOWN_BAD), with --stdlib: not compiled,
    # and not counted among ``sources``.
    left_out: list[Need] = field(default_factory=list)
    compiled: int = 0  # caches written, from_cache of them with the compile cache's entries
    from_cache: int = 0
    damaged: int = 0  # entries of the compile cache found damaged (compiled again, replaced)
    cached: set[str] = field(default_factory=set)  # dry run: the planned caches it would hit
    errors: list[CompileError] = field(default_factory=list)
    warnings: list[CompileWarning] = field(default_factory=list)
    unreadable: list[Record] = field(default_factory=list)  # what the walk could not read
    workers: int = 0
    seconds: float = 0.0


@dataclass
class CompileResult:
    mode: Invalidation
    dry_run: bool
    force: bool
    targets: list[TargetResult]
    unmatched_excludes: list[str] = field(default_factory=list)  # matched nothing anywhere
    roots: list[str] = field(default_factory=list)  # every root walked, for every target
    cache: cachedir.Use | None = None

    @property
    def errors(self) -> list[CompileError]:
        return [e for t in self.targets for e in t.errors]

    @property
    def warnings(self) -> list[CompileWarning]:
        return [w for t in self.targets for w in t.warnings]

    @property
    def incomplete(self) -> bool:
        """I/O errors, dead workers or unreadable directories: not everything could be done."""
        return any(t.unreadable for t in self.targets) or any(
            e.kind != "syntax" for e in self.errors
        )


def need_reason(need: Need, mode: Invalidation, force: bool) -> str:
    """Why a cache is (re)written, for the dry-run listing."""
    record = need.record
    if record.status is Status.FRESH:
        if record.invalidation != mode:
            return f"fresh, but written as {record.invalidation}; {mode} was asked for"
        return "fresh; rewritten because of --force"
    return record.reason
