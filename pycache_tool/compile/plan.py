"""compile: write the caches that target interpreters lack, inside those interpreters.

The plan comes from the one walker and the one classifier (``Scan`` with ``collect_needs``):
a source needs compiling for a target and level unless it has a cache there that the target
loads, that matches the source, and that was written in the requested invalidation mode.

The work runs in a pool of the target's own processes (``worker.py``): its magic
number, cache tag, SipHash and marshal format are its own. They are fed batches of paths over
a pipe, largest sources first so that no worker is left with a big file at the end, and
answer file by file, so a worker that dies or hangs is known to the file and replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from pycache_tool.bytecode import interpreters
from pycache_tool.bytecode.interpreters import Interpreter, version_key
from pycache_tool.bytecode.pyc import INVALIDATION_MODES, Invalidation
from pycache_tool.errors import UsageError
from pycache_tool.scanning.coverage import Need, covers
from pycache_tool.scanning.records import Record, Status
from pycache_tool.scanning.scan import Scan

MODES = INVALIDATION_MODES
# Why a file was not compiled: the source's fault, the file system's, or its worker died or hung.
ErrorKind = Literal["syntax", "io", "worker"]
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
DEFAULT_TIMEOUT = 60.0

Progress = Callable[[str, int, int], None]  # (target name, files done, files planned)


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
    use_ignore_files: bool = True
    dry_run: bool = False
    timeout: float = DEFAULT_TIMEOUT  # seconds a worker may spend on one file; 0: no limit
    deep: bool = False  # also rewrite fresh caches whose code after the header is damaged


class CompileError(NamedTuple):
    source: str
    cache: str
    target: str
    level: int
    kind: ErrorKind
    message: str
    line: int | None = None
    column: int | None = None


@dataclass
class TargetResult:
    target: Interpreter
    roots: list[str]
    levels: tuple[int, ...]
    sources: int = 0  # (source, level) pairs walked
    fresh: int = 0  # of those, already fresh in the requested mode: skipped
    planned: list[Need] = field(default_factory=list)  # what needed (or would need) writing
    compiled: int = 0
    errors: list[CompileError] = field(default_factory=list)
    unreadable: list[Record] = field(default_factory=list)  # what the walk could not read
    workers: int = 0
    seconds: float = 0.0


@dataclass
class CompileResult:
    mode: Invalidation
    dry_run: bool
    force: bool
    targets: list[TargetResult]

    @property
    def errors(self) -> list[CompileError]:
        return [e for t in self.targets for e in t.errors]

    @property
    def incomplete(self) -> bool:
        """I/O errors, dead workers or unreadable directories: not everything could be done."""
        return any(t.unreadable for t in self.targets) or any(
            e.kind != "syntax" for e in self.errors
        )


def default_mode(explicit: str | None) -> Invalidation:
    """The mode asked for; else checked-hash when SOURCE_DATE_EPOCH is set, as py_compile does."""
    if explicit is not None:
        mode = next((m for m in MODES if m == explicit), None)
        if mode is None:
            raise UsageError(f"unknown invalidation mode {explicit!r}; use one of {MODES}")
        return mode
    return "checked-hash" if os.environ.get("SOURCE_DATE_EPOCH") else "timestamp"


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


def target_dirs(target: Interpreter) -> tuple[list[str], str | None]:
    """The target's own site-packages directories and its standard library."""
    assert target.executable is not None
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    answer = interpreters.ask([target.executable], _PATHS_QUERY, env)
    try:
        purelib, platlib, stdlib = answer
    except (TypeError, ValueError):
        raise UsageError(f"--python {target.executable} did not name its directories") from None
    site = []
    for path in (purelib, platlib):
        if path and os.path.isdir(path) and os.path.realpath(path) not in site:
            site.append(os.path.realpath(path))
    return site, os.path.realpath(stdlib) if stdlib and os.path.isdir(stdlib) else None


def baked_path(source: str, strip: str | None, prepend: str | None) -> str | None:
    """The file name written into the code objects (``dfile``); None: the source path."""
    if strip is None and prepend is None:
        return None
    path = source
    if strip is not None:
        path = os.path.relpath(source, strip)
    if prepend is not None:
        path = os.path.join(prepend, path.lstrip(os.sep))
    return path


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
    strip = os.path.abspath(options.strip_prefix) if options.strip_prefix else None
    for target in targets:
        check_target(target)
    plans = []
    for target in targets:
        site, stdlib = (
            target_dirs(target) if options.site_packages or options.stdlib else ([], None)
        )
        roots = [os.path.abspath(p) for p in paths]
        if options.site_packages:
            roots += site
        if options.stdlib and stdlib:
            roots.append(stdlib)
        if strip is not None:
            outside = [r for r in roots if not _under(r, strip)]
            if outside:
                raise UsageError(
                    f"--strip-prefix {options.strip_prefix} is not a prefix of {outside[0]}"
                )
        plans.append((target, roots, site if not options.site_packages else [], stdlib))
    results = []
    for target, roots, site_left_out, stdlib in plans:
        result = _plan(
            target, roots, site_left_out, stdlib if options.stdlib else None, mode, options
        )
        if not options.dry_run and result.planned:
            started = time.perf_counter()
            _run_pool(result, mode, options, strip, progress)
            result.seconds = time.perf_counter() - started
        results.append(result)
    return CompileResult(mode, options.dry_run, options.force, results)


def _plan(
    target: Interpreter,
    roots: list[str],
    site_left_out: list[str],  # the site-packages inside the stdlib, when not asked for
    stdlib: str | None,
    mode: Invalidation,
    options: Options,
) -> TargetResult:
    """Walk every root with the one walker; keep each cache the target needs, once."""
    levels = options.levels or (target.optimize,)
    result = TargetResult(target, [], tuple(sorted(set(levels))))
    prefix = options.pycache_prefix or target.pycache_prefix or None
    seen: set[str] = set()
    units: list[Need] = []
    for root in roots:
        # Every (source, level) is collected, so that roots that overlap (a site-packages
        # inside a PATH) count each cache once.
        scan = Scan(
            [root],
            targets=[target],
            exclude=list(options.exclude),
            use_ignore_files=options.use_ignore_files,
            pycache_prefix=prefix,
            levels=result.levels,
            invalidation=mode,
            collect_needs="all",
            targets_only=True,
            deep=options.deep,
        )
        result.roots.extend(r for r in scan.roots if r not in result.roots)
        for record in scan:
            if record.status is Status.UNREADABLE:
                result.unreadable.append(record)
        for need in scan.needs:
            if need.cache in seen:
                continue
            if root == stdlib and any(_under(need.source, d) for d in site_left_out):
                continue  # the site-packages inside the stdlib directory: not asked for
            seen.add(need.cache)
            units.append(need)
    result.sources = len(units)
    for need in units:
        if covers(need.record, mode):  # what the scan counted as coverage
            result.fresh += 1
            if not options.force:
                continue
        result.planned.append(need)
    result.planned.sort(key=lambda n: (-n.size, n.source, n.level))
    return result


def need_reason(need: Need, mode: Invalidation, force: bool) -> str:
    """Why a cache is (re)written, for the dry-run listing."""
    record = need.record
    if record.status is Status.FRESH:
        if record.invalidation != mode:
            return f"fresh, but written as {record.invalidation}; {mode} was asked for"
        return "fresh; rewritten because of --force"
    return record.reason


class _Worker:
    """One process of the target interpreter, and the files it has been handed."""

    def __init__(self, target: Interpreter, mode: str) -> None:
        assert target.executable is not None
        env = dict(os.environ)
        # Set and frozenset constants are marshalled in hash order before 3.11: a fixed seed
        # makes hash-based pycs byte-identical from run to run (bpo-37596).
        env["PYTHONHASHSEED"] = "0"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.proc = subprocess.Popen(
            [target.executable, "-s", "-B", WORKER, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=os.path.dirname(WORKER),
        )
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self.stdin = self.proc.stdin
        self.out_fd = self.proc.stdout.fileno()
        self.err_fd = self.proc.stderr.fileno()
        os.set_blocking(self.out_fd, False)
        os.set_blocking(self.err_fd, False)
        self.buffer = b""
        self.stderr_tail = b""
        self.ready = False
        self.outstanding: deque[tuple[int, Need]] = deque()
        self.last = time.monotonic()  # when it last answered (or was handed work while idle)

    def send(self, batch: list[tuple[int, Need]], dfiles: list[str | None]) -> None:
        if not self.outstanding:
            self.last = time.monotonic()
        self.outstanding.extend(batch)
        line = json.dumps(
            [
                [ident, need.source, need.cache, dfile, need.level]
                for (ident, need), dfile in zip(batch, dfiles)
            ]
        )
        self.stdin.write(line.encode("ascii") + b"\n")
        self.stdin.flush()

    def describe_end(self) -> str:
        code = self.proc.poll()
        if code is None:
            how = "stopped"
        elif code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        tail = self.stderr_tail.decode("utf-8", "replace").strip().splitlines()
        return how + (f" ({tail[-1].strip()})" if tail else "")

    def close(self, wait: float, stop: bool = False) -> None:
        """End of input: a worker finishes the file in hand (never half-written), then exits.

        ``stop``: also skip what is still queued in its pipe (SIGTERM, which it handles).
        """
        if stop and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _run_pool(
    result: TargetResult,
    mode: str,
    options: Options,
    strip: str | None,
    progress: Progress | None,
) -> None:
    """Compile ``result.planned`` in a pool of the target's processes; fill in the outcome."""
    target = result.target
    name = target.name
    total = len(result.planned)
    queue: deque[tuple[int, Need]] = deque(enumerate(result.planned))
    remaining = sum(n.size for n in result.planned)
    jobs = min(options.jobs or _cpu_count(), total)
    result.workers = jobs
    timeout = options.timeout if options.timeout > 0 else None
    done = 0
    selector = selectors.DefaultSelector()
    workers: list[_Worker] = []

    def spawn() -> None:
        worker = _Worker(target, mode)
        workers.append(worker)
        selector.register(worker.out_fd, selectors.EVENT_READ, (worker, False))
        selector.register(worker.err_fd, selectors.EVENT_READ, (worker, True))

    def retire(worker: _Worker, why: str) -> None:
        """A worker died or hung: blame the file in hand, hand the rest to another."""
        nonlocal done
        for fd in (worker.out_fd, worker.err_fd):
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(fd)
        workers.remove(worker)
        if worker.proc.poll() is None:
            worker.proc.kill()
        worker.close(wait=5)
        message = why if why else f"the {name} worker {worker.describe_end()}"
        if not worker.ready:
            # It never started: no other worker of this interpreter will either.
            lost = list(worker.outstanding) + list(queue)
            queue.clear()
            message = f"cannot start a {name} worker: {worker.describe_end()}"
        elif worker.outstanding:
            lost = [worker.outstanding.popleft()]
            queue.extendleft(reversed(worker.outstanding))
        else:
            lost = []
        for _, need in lost:
            result.errors.append(
                CompileError(need.source, need.cache, name, need.level, "worker", message)
            )
            done += 1
        if queue and len(workers) < jobs:
            spawn()

    def feed(worker: _Worker) -> None:
        nonlocal remaining
        # Small batches at the end: the last files are spread over every worker.
        budget = max(remaining // (jobs * 4), 1)
        batch: list[tuple[int, Need]] = []
        size = 0
        while queue and len(batch) < 64 and (not batch or size + queue[0][1].size <= budget):
            item = queue.popleft()
            batch.append(item)
            size += item[1].size
        remaining -= size
        dfiles = [baked_path(n.source, strip, options.prepend_prefix) for _, n in batch]
        try:
            worker.send(batch, dfiles)
        except OSError:
            retire(worker, "")

    try:
        for _ in range(jobs):
            spawn()
        while workers and (queue or any(w.outstanding for w in workers)):
            for worker in workers.copy():  # feeding may retire one
                # Keep the next batch waiting in the pipe while the last file is compiled.
                if queue and worker in workers and len(worker.outstanding) <= 1:
                    feed(worker)
            wait = None
            if timeout is not None:
                busy = [w.last for w in workers if w.outstanding]
                if busy:
                    wait = max(0.0, min(busy) + timeout - time.monotonic())
            for key, _ in selector.select(wait):
                worker, is_err = key.data
                if worker not in workers:
                    continue
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if is_err:
                    worker.stderr_tail = (worker.stderr_tail + chunk)[-2000:]
                    if not chunk:
                        selector.unregister(key.fd)
                    continue
                if not chunk:  # it closed its output: it has exited, or is about to
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        worker.proc.wait(timeout=5)
                    retire(worker, "")
                    continue
                worker.buffer += chunk
                *lines, worker.buffer = worker.buffer.split(b"\n")
                for line in lines:
                    try:
                        answer = json.loads(line)
                    except ValueError:
                        continue  # not ours: something in the target's start-up printed it
                    if isinstance(answer, dict):
                        worker.ready = True
                        continue
                    worker.last = time.monotonic()
                    ident, need = worker.outstanding.popleft()
                    assert ident == answer[0], "worker answers out of order"
                    done += 1
                    if answer[1] == "ok":
                        result.compiled += 1
                    else:
                        kind: ErrorKind = "syntax" if answer[1] == "syntax" else "io"
                        line_no, column = (
                            (answer[3], answer[4]) if kind == "syntax" else (None, None)
                        )
                        result.errors.append(
                            CompileError(
                                need.source, need.cache, name, need.level, kind, answer[2],
                                line_no, column,
                            )
                        )  # fmt: skip
                    if progress is not None:
                        progress(name, done, total)
            if timeout is not None:
                now = time.monotonic()
                for worker in workers.copy():
                    if worker.outstanding and now - worker.last > timeout:
                        retire(worker, f"timed out: no result after {timeout:g} s; worker killed")
        for worker in workers:
            worker.close(wait=30)
    finally:
        # Interrupted (or failed): the workers finish the file in hand and see end of input.
        for worker in workers:
            if worker.proc.returncode is None:
                worker.close(wait=10, stop=True)
        selector.close()
    if progress is not None:
        progress(name, done, total)
