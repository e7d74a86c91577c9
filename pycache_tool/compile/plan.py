"""compile: write the caches that target interpreters lack, inside those interpreters.

The plan comes from the one walker and the one classifier (``Scan`` with ``collect_needs``):
a source needs compiling for a target and level unless it has a cache there that the target
loads, that matches the source, and that was written in the requested invalidation mode.

A cache whose ``__pycache__`` is a symlink (or no directory), or that is itself no regular
file, is never written: it is reported as skipped, with the reason. Which sources the PATHS
name, and which fresh caches record a file name this run would not write: ``sources.py``.

The work runs in a pool of the target's own processes (``pool.py``, ``worker.py``): its
magic number, cache tag, SipHash and marshal format are its own.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Sequence

from pycache_tool.bytecode import interpreters
from pycache_tool.bytecode.interpreters import Interpreter, version_key
from pycache_tool.bytecode.pyc import INVALIDATION_MODES, Invalidation
from pycache_tool.compile import cachedir
from pycache_tool.compile.pool import (
    STOP_WAIT,
    Outcome,
    Pool,
    Progress,
    Task,
    Worker,
    cpu_count,
)
from pycache_tool.compile.results import (
    CompileError,
    CompileResult,
    CompileWarning,
    Options,
    TargetResult,
)
from pycache_tool.compile.sources import baked_path, renamed, split_paths, walks
from pycache_tool.errors import UsageError
from pycache_tool.scanning.coverage import Need, covers
from pycache_tool.scanning.records import Status
from pycache_tool.scanning.scan import Scan

MODES = INVALIDATION_MODES
# Files CPython ships broken on purpose, the data of its own tests (bad encodings, syntax
# errors, Python 2 grammar): its ``make install`` leaves them out when it compiles the
# standard library (compileall -x 'bad_coding|badsyntax|site-packages|lib2to3/tests/data'),
# and so does ``compile --stdlib``, saying so. Searched in the path below the stdlib, as -x.
KNOWN_BAD = re.compile(r"bad_coding|badsyntax|lib2to3/tests/data/|test/test_lib2to3/data/")


def default_mode(explicit: str | None) -> Invalidation:
    """The mode asked for; else checked-hash when SOURCE_DATE_EPOCH is set, as py_compile does."""
    if explicit is not None:
        mode = next((m for m in MODES if m == explicit), None)
        if mode is None:
            raise UsageError(f"unknown invalidation mode {explicit!r}; use one of {MODES}")
        return mode
    return "checked-hash" if os.environ.get("SOURCE_DATE_EPOCH") else "timestamp"


def check_timeout(timeout: float | None) -> None:
    """None, or a finite number of seconds above 0 (nan would disable every comparison)."""
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"--timeout must be a number of seconds above 0, not {timeout:g}")


def check_target(target: Interpreter) -> None:
    if target.implementation not in ("cpython", "pypy") or version_key(target.version) < (3, 8):
        raise UsageError(
            f"cannot compile for {target.name} (Python {target.version}):"
            " compile needs CPython 3.8+ or PyPy 3.8+"
        )
    if target.tag is None or target.executable is None:
        raise UsageError(f"cannot compile for {target.name}: it has no cache tag")


# Runs inside the target: where its site-packages and standard library are.
_PATHS_QUERY = (
    "import json, sysconfig; p = sysconfig.get_paths();"
    " print(json.dumps([p.get('purelib'), p.get('platlib'), p.get('stdlib')]))"
)


def target_dirs(target: Interpreter, timeout: float | None = None) -> tuple[list[str], str | None]:
    """The target's own site-packages directories and its standard library."""
    assert target.executable is not None
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    answer = interpreters.ask([target.executable], _PATHS_QUERY, env, timeout=timeout)
    try:
        purelib, platlib, stdlib = answer
    except (TypeError, ValueError):
        raise UsageError(f"--python {target.executable} did not name its directories") from None
    site = []
    for path in (purelib, platlib):
        if path and os.path.isdir(path) and os.path.realpath(path) not in site:
            site.append(os.path.realpath(path))
    return site, os.path.realpath(stdlib) if stdlib and os.path.isdir(stdlib) else None


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def compile_trees(
    paths: Sequence[str],
    targets: Sequence[Interpreter],
    options: Options,
    progress: Progress | None = None,
) -> CompileResult:
    """Compile (or with ``dry_run`` only plan) ``paths`` for every target, one after another."""
    mode = default_mode(options.invalidation_mode)
    for level in options.levels or ():
        if level not in (0, 1, 2):
            raise UsageError(f"optimization level {level} is not 0, 1 or 2")
    if options.jobs is not None and options.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    check_timeout(options.timeout)
    if options.max_depth is not None and options.max_depth < 0:
        raise UsageError("--max-depth must not be negative")
    if options.hardlink_dupes and len(set(options.levels or ())) < 2:
        raise UsageError(
            "--hardlink-dupes needs two -O levels or more: it links one level's cache to another's"
        )
    strip = os.path.abspath(options.strip_prefix) if options.strip_prefix else None
    for target in targets:
        check_target(target)
    directories, files = split_paths(paths)
    plans = []
    for target in targets:
        site, stdlib = (
            target_dirs(target, options.timeout)
            if options.site_packages or options.stdlib
            else ([], None)
        )
        roots = list(directories)
        if options.site_packages:
            roots += site
        if options.stdlib and stdlib:
            roots.append(stdlib)
        if strip is not None:
            outside = [r for r in [*roots, *files] if not _under(r, strip)]
            if outside:
                raise UsageError(
                    f"--strip-prefix {options.strip_prefix} is not a prefix of {outside[0]}"
                )
        plans.append((target, roots, site if not options.site_packages else [], stdlib))
    use = cachedir.use(options.cache, options.dry_run) if options.cache else None
    results = []
    unmatched = set(options.check_excludes)
    for target, roots, site_left_out, stdlib in plans:
        cache = use.directory if use is not None and use.active else None  # as _run has it
        ahead = _Ahead(target, mode, cache, options)
        try:
            result = _plan(
                target,
                roots,
                files,
                site_left_out,
                stdlib if options.stdlib else None,
                mode,
                options,
                unmatched,
                strip,
                ahead.need,
            )
            if options.dry_run and use is not None and use.active and result.planned:
                _peek(result, use, options.timeout)
            if not options.dry_run and result.planned:
                started = time.perf_counter()
                _run(result, mode, options, strip, progress, use, ahead.take())
                result.seconds = time.perf_counter() - started
        finally:
            ahead.close()
        results.append(result)
    every_root = list(dict.fromkeys(r for result in results for r in result.roots))
    unmatched_in_order = [p for p in options.check_excludes if p in unmatched]
    if use is not None and use.active and not options.dry_run:
        cachedir.record_run(use.directory, [_counts(r) for r in results])
        if options.cache_max_size is not None:
            use.pruned = cachedir.prune(use.directory, options.cache_max_size)
    return CompileResult(
        mode, options.dry_run, options.force, results, unmatched_in_order, every_root, use
    )


class _Ahead:
    """A target's workers, started while the walk goes on, so that their start-up overlaps
    the rest of it: one more at each cache found to write, up to as many as the pool will use
    (one per cache, at most ``--jobs`` or one per CPU). None for a dry run, or for a tree with
    nothing to write."""

    def __init__(self, target: Interpreter, mode: str, cache: str | None, options: Options):
        assert target.executable is not None
        self.args = (target.executable, mode, cache)
        self.limit = 0 if options.dry_run else options.jobs or cpu_count()
        self.workers: list[Worker] = []
        self.pid = os.getpid()

    def need(self) -> None:
        # A scan's helper is a fork of this process, walking on: it must start nothing.
        if len(self.workers) < self.limit and os.getpid() == self.pid:
            try:
                self.workers.append(Worker(*self.args))
            except OSError:  # the pool tries again, and says why
                self.limit = 0

    def take(self) -> list[Worker]:
        taken, self.workers = self.workers, []
        return taken

    def close(self) -> None:
        """Those not taken (nothing was planned after all, or the walk failed) end unused."""
        for worker in self.take():
            worker.close(wait=STOP_WAIT)


def _peek(result: TargetResult, use: cachedir.Use, timeout: float | None) -> None:
    """Dry run: which planned caches the compile cache holds verified entries for."""
    assert result.target.executable is not None
    name = cachedir.identity_of(result.target.executable, timeout)
    result.cached = cachedir.holds(use.directory, name, result.planned)


def _counts(result: TargetResult) -> dict[str, object]:
    """A target's part of a run record (``cache info`` shows them)."""
    return {
        "target": result.target.name,
        "written": result.compiled,
        "from_cache": result.from_cache,
        "compiled": result.compiled - result.from_cache,
        "damaged": result.damaged,
        "failed": len(result.errors),
        "seconds": round(result.seconds, 3),
    }


def _plan(
    target: Interpreter,
    roots: list[str],
    files: list[str],  # .py files named as PATHS
    site_left_out: list[str],  # the site-packages inside the stdlib, when not asked for
    stdlib: str | None,
    mode: Invalidation,
    options: Options,
    unmatched: set[str],
    strip: str | None,
    on_need: Callable[[], None] = lambda: None,
) -> TargetResult:
    """Walk every root with the one walker; keep each cache the target needs, once.
    ``unmatched``: the exclude patterns no walk has matched yet; those this one matches go.
    ``on_need``: called at each cache found to write, as the walk goes (workers start)."""
    levels = options.levels or (target.optimize,)
    result = TargetResult(target, [], tuple(sorted(set(levels))))
    prefix = options.pycache_prefix or target.pycache_prefix or None
    seen: set[str] = set()
    units: list[Need] = []
    for root, named in walks(roots, files):
        # Every (source, level) is collected, so that roots that overlap (a site-packages
        # inside a PATH) count each cache once.
        scan = Scan(
            [root],
            targets=[target],
            exclude=list(options.exclude),
            use_ignore_files=options.use_ignore_files and named is None,
            pycache_prefix=prefix,
            levels=result.levels,
            invalidation=mode,
            collect_needs="all",
            targets_only=True,
            deep=options.deep,
            check_excludes=sorted(unmatched),
            max_depth=options.max_depth if named is None else 0,
            helper=options.helper,
            on_need=on_need,
        )
        walked = scan.roots if named is None else sorted(named)
        result.roots.extend(r for r in walked if r not in result.roots)
        for record in scan:
            if record.status is Status.UNREADABLE:
                result.unreadable.append(record)
            elif options.force:  # a fresh cache is written again: the walk counts it as no need
                on_need()
        unmatched.intersection_update(scan.unmatched_excludes)
        for need in scan.needs:
            if need.cache in seen or (named is not None and need.source not in named):
                continue
            if root == stdlib and any(_under(need.source, d) for d in site_left_out):
                continue  # the site-packages inside the stdlib directory: not asked for
            seen.add(need.cache)
            if root == stdlib and KNOWN_BAD.search(os.path.relpath(need.source, stdlib)):
                result.left_out.append(need)
                continue
            units.append(need)
    result.sources = len(units)
    if (strip or options.prepend_prefix) and not options.force:
        units = renamed(target, units, mode, strip, options.prepend_prefix)
    for need in units:
        if need.blocked:
            result.skipped.append(need)
        elif covers(need.record, mode) and not options.force:  # what the scan counts as fresh
            result.fresh += 1
        else:
            result.planned.append(need)
    result.planned.sort(key=lambda n: (-n.size, n.source, n.level))
    return result


def _run(
    result: TargetResult,
    mode: str,
    options: Options,
    strip: str | None,
    progress: Progress | None,
    use: cachedir.Use | None,
    started: Sequence[Worker] = (),
) -> None:
    """Write ``result.planned`` in a pool of the target's processes (``started`` first); fill
    in the outcome."""
    target = result.target
    assert target.executable is not None
    prefix = _prefix_anchor(options.pycache_prefix or target.pycache_prefix or None)
    planned = {(n.source, n.level) for n in result.planned} if options.hardlink_dupes else set()
    tasks = [
        _task(
            need, result.roots, prefix, baked_path(need.source, strip, options.prepend_prefix)
        )._replace(dupes=_dupes(need, result.levels, planned, target.tag or ""))
        for need in result.planned
    ]
    pool = Pool(
        target.name,
        target.executable,
        mode,
        tasks,
        jobs=options.jobs,
        timeout=options.timeout,
        progress=progress,
        cache=use.directory if use is not None and use.active else None,
        started=started,
    )
    result.workers = pool.jobs
    for need, outcome in zip(result.planned, pool.run()):
        _record(result, need, outcome)
        if outcome.cache_error and use is not None:
            use.fail(outcome.cache_error)


def _dupes(
    need: Need, levels: tuple[int, ...], planned: set[tuple[str, int]], tag: str
) -> tuple[str, ...]:
    """With --hardlink-dupes (``planned`` not empty), the names of the caches of the source's
    other levels that this one may be linked to: those there already, and those written
    before it (the lower levels of the plan; tasks of one source run in level order)."""
    if not planned:
        return ()
    stem = os.path.basename(need.source)[:-3]
    return tuple(
        f"{stem}.{tag}{f'.opt-{level}' if level else ''}.pyc"
        for level in levels
        if level < need.level or (level > need.level and (need.source, level) not in planned)
    )


def _record(result: TargetResult, need: Need, outcome: Outcome) -> None:
    result.warnings.extend(
        CompileWarning(need.source, result.target.name, need.level, *w) for w in outcome.warnings
    )
    if outcome.cache == "damaged":
        result.damaged += 1
    if outcome.kind == "ok":
        result.compiled += 1
        result.from_cache += outcome.cache == "hit"
    elif outcome.kind == "skipped":
        result.skipped.append(need._replace(blocked=outcome.message))
    else:
        result.errors.append(
            CompileError(
                need.source,
                need.cache,
                result.target.name,
                need.level,
                outcome.kind,
                outcome.message,
                # What Python reports of an encoding declaration: line 0, column -1 (or 0)
                outcome.line if outcome.line and outcome.line > 0 else None,
                outcome.column if outcome.column and outcome.column > 0 else None,
            )
        )


def _prefix_anchor(prefix: str | None) -> str | None:
    """The nearest directory at or above the pycache_prefix that exists (None: no prefix): the
    worker starts there, as named, and makes the rest without following a symlink."""
    if prefix is None:
        return None
    anchor = os.path.abspath(prefix)
    while not os.path.isdir(anchor) and os.path.dirname(anchor) != anchor:
        anchor = os.path.dirname(anchor)
    return anchor


def _task(need: Need, roots: list[str], prefix: str | None, dfile: str | None) -> Task:
    """Where the worker writes ``need.cache``: below the root the walk found it in (only
    ``__pycache__`` may be made), or below the prefix's anchor (every directory may be)."""
    directory, name = os.path.split(need.cache)
    if prefix is not None:
        anchor = prefix
    else:  # a named file's own directory when no root holds it
        inside = [r for r in roots if _under(directory, r)]
        anchor = max(inside, key=len) if inside else os.path.dirname(need.source)
    # The cache's directory is below the anchor (both normalized, absolute): a slice, where
    # relpath would normalize both again (a tenth of the time a warm compile cache leaves).
    below = (
        directory[len(anchor) :]
        if _under(directory, anchor)
        else os.path.relpath(directory, anchor)
    )
    dirs = tuple(p for p in below.split(os.sep) if p and p != ".")
    create = len(dirs) if prefix is not None else 1
    return Task(need.source, need.size, need.level, dfile, anchor, dirs, create, name)
