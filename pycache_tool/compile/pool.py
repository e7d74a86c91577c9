"""The worker pool: processes of the target interpreter compile the plan's tasks.

Each worker (``worker.py``) is fed batches of tasks over a pipe, largest sources first so that
no worker is left with a big file at the end, and answers task by task, in order: a worker
that dies, hangs or never starts is known to the file and replaced.

Nothing here blocks without a bound: writes to a worker are non-blocking (a worker that stops
reading fills its pipe, and the rest waits here, in memory), every wait in ``select`` ends by
the nearest deadline (the per-file ``timeout``, a worker's start-up, a periodic look at the
processes), and a worker is killed when it is waited for longer than that.
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
from typing import Literal, NamedTuple

from pycache_tool.bytecode.interpreters import QUERY_TIMEOUT

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
TICK = 1.0  # seconds between looks at the workers' processes, whatever else happens
STOP_WAIT = 10.0  # seconds a stopped worker has to finish the file in hand

Progress = Callable[[str, int, int], None]  # (target name, files done, files planned)
Kind = Literal["ok", "syntax", "io", "skipped", "worker"]


class Task(NamedTuple):
    """One cache to write: compile ``source`` into ``anchor/dirs.../name``."""

    source: str
    size: int  # of the source: batches are measured in bytes
    level: int  # optimization level
    dfile: str | None  # the file name written into the code objects; None: ``source``
    anchor: str  # a real directory: the scan root, or the pycache_prefix (or what exists of it)
    dirs: tuple[str, ...]  # the directories below the anchor, opened without following links
    create: int  # how many of the last ``dirs`` may be made (``__pycache__``, a prefix tree)
    name: str  # the cache file's name
    # --hardlink-dupes: the caches of the source's other levels, in the same directory; one
    # that holds the same bytes is linked instead of written. Such tasks of one source go to
    # one worker, in the order given, so that each compares with what the ones before wrote.
    dupes: tuple[str, ...] = ()


class Warned(NamedTuple):
    """A compiler warning: its category (``SyntaxWarning``), message and line."""

    category: str
    message: str
    line: int | None


class Outcome(NamedTuple):
    """What became of a task. ``message`` and the position are empty for "ok"."""

    kind: Kind  # "syntax": the source's fault; "io", "skipped": the file system's; "worker"
    message: str = ""
    line: int | None = None
    column: int | None = None
    warnings: tuple[Warned, ...] = ()
    cache: str | None = None  # with a compile cache: "hit", "miss" or "damaged"
    cache_error: str = ""  # the cache failed (the worker goes on without it)


class _Answer(NamedTuple):
    ident: int
    outcome: Outcome


_KINDS = ("ok", "syntax", "io", "skipped")


def _parse(line: bytes) -> Literal["ready"] | _Answer | None:
    """A worker's line, or None when it is not the protocol's (start-up code may print)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if doc.get("ready") is True:
        return "ready"
    ident, kind = doc.get("id"), doc.get("outcome")
    if not isinstance(ident, int) or kind not in _KINDS:
        return None
    line_no, column, cache = doc.get("line"), doc.get("column"), doc.get("cache")
    warned = doc.get("warnings")
    return _Answer(
        ident,
        Outcome(
            kind,
            str(doc.get("message", "")),
            _number(line_no),
            _number(column),
            tuple(
                Warned(str(w[0]), str(w[1]), _number(w[2]))
                for w in (warned if isinstance(warned, list) else ())
                if isinstance(w, list) and len(w) == 3
            ),
            cache if cache in ("hit", "miss", "damaged") else None,
            str(doc.get("cache_error", "")),
        ),
    )


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Worker:
    """One process of the target interpreter, and the tasks it has been handed."""

    def __init__(self, executable: str, mode: str, cache: str | None) -> None:
        env = dict(os.environ)
        # Set and frozenset constants are marshalled in hash order before 3.11: a fixed seed
        # makes hash-based pycs byte-identical from run to run (bpo-37596).
        env["PYTHONHASHSEED"] = "0"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.proc = subprocess.Popen(
            [executable, "-s", "-B", WORKER, mode, *([cache] if cache else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=os.path.dirname(WORKER),
        )
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self.in_fd = self.proc.stdin.fileno()
        self.out_fd = self.proc.stdout.fileno()
        self.err_fd = self.proc.stderr.fileno()
        for fd in (self.in_fd, self.out_fd, self.err_fd):
            os.set_blocking(fd, False)
        self.pending = bytearray()  # batches not yet taken by its stdin
        self.partial = b""  # the start of an answer line
        self.stderr_tail = b""
        self.ready = False
        self.outstanding: deque[int] = deque()  # tasks handed to it, in the order it answers
        self.last = time.monotonic()  # when it last answered, or was handed work while idle

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
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cpu_count() -> int:
    """The CPUs this process may run on: the default number of workers."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class Pool:
    """Compile ``tasks`` in up to ``jobs`` processes of ``executable``; ``run`` returns one
    Outcome per task, in the tasks' order. ``timeout``: seconds a worker may spend on one
    file (None: no limit). ``cache``: the compile cache's directory, ready for use.
    ``started``: workers already started for the same executable, mode and cache, used
    before any other is; those not needed are closed."""

    def __init__(
        self,
        name: str,
        executable: str,
        mode: str,
        tasks: Sequence[Task],
        *,
        jobs: int | None,
        timeout: float | None,
        progress: Progress | None = None,
        cache: str | None = None,
        started: Sequence[Worker] = (),
    ) -> None:
        self.name = name
        self.cache = cache
        self.executable = executable
        self.mode = mode
        self.tasks = tasks
        self.jobs = max(1, min(jobs or cpu_count(), len(tasks)))
        self.timeout = timeout
        self.progress = progress
        self.outcomes: list[Outcome | None] = [None] * len(tasks)
        self.queue: deque[int] = deque(range(len(tasks)))
        self.remaining = sum(t.size for t in tasks)  # bytes of source not yet handed out
        self.done = 0
        self.selector = selectors.DefaultSelector()
        self.workers: list[Worker] = []
        self.spares = list(started)

    def run(self) -> list[Outcome]:
        try:
            while self.queue and len(self.workers) < self.jobs:
                self._spawn()
            while self.workers and (self.queue or any(w.outstanding for w in self.workers)):
                for worker in self.workers.copy():  # feeding may retire one
                    # Keep the next batch waiting in the pipe while the last file is compiled.
                    if self.queue and worker in self.workers and len(worker.outstanding) <= 1:
                        self._feed(worker)
                if not self.workers:
                    break
                for key, _ in self.selector.select(self._wait()):
                    worker, stream = key.data
                    if worker in self.workers:
                        self._on_ready(worker, stream)
                self._check_workers()
            for worker in self.workers:
                worker.close(wait=STOP_WAIT)
            self.workers.clear()
        finally:
            # Interrupted (or failed): the workers finish the file in hand and stop.
            for worker in self.workers:
                worker.close(wait=STOP_WAIT, stop=True)
            for worker in self.spares:  # never handed a task: end of input ends them
                worker.close(wait=STOP_WAIT)
            self.selector.close()
        lost = Outcome("worker", f"not compiled: no {self.name} worker was left")
        return [outcome or lost for outcome in self.outcomes]

    # -- workers come and go ---------------------------------------------------------------

    def _spawn(self) -> None:
        try:
            worker = (
                self.spares.pop() if self.spares else Worker(self.executable, self.mode, self.cache)
            )
        except OSError as exc:
            message = f"cannot start a {self.name} worker: {exc.strerror or exc}"
            while self.queue:
                self._settle(self.queue.popleft(), Outcome("worker", message))
            return
        self.workers.append(worker)
        self.selector.register(worker.out_fd, selectors.EVENT_READ, (worker, "out"))
        self.selector.register(worker.err_fd, selectors.EVENT_READ, (worker, "err"))

    def _retire(self, worker: Worker, why: str = "") -> None:
        """A worker died (``why`` empty: it closed a pipe, and is ending), hung or broke the
        protocol (``why`` says so): blame the file in hand, hand the rest to another."""
        for fd in (worker.out_fd, worker.err_fd, worker.in_fd):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fd)
        self.workers.remove(worker)
        if not why:  # let it end on its own, so that what ended it can be told
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(timeout=5)
        if worker.proc.poll() is None:
            worker.proc.kill()
        worker.close(wait=5)
        if not worker.ready:
            # It never started: no other worker of this interpreter will either.
            lost = [*worker.outstanding, *self.queue]
            self.queue.clear()
            message = f"cannot start a {self.name} worker: {why or worker.describe_end()}"
        elif worker.outstanding:
            lost = [worker.outstanding.popleft()]
            self.queue.extendleft(reversed(worker.outstanding))
            message = why or f"the {self.name} worker {worker.describe_end()}"
        else:
            lost, message = [], ""
        for index in lost:
            self._settle(index, Outcome("worker", message))
        if self.queue and len(self.workers) < self.jobs:
            self._spawn()

    def _check_workers(self) -> None:
        """Retire the workers that outlived their deadline, or whose process has ended."""
        now = time.monotonic()
        for worker in self.workers.copy():
            limit = self._limit(worker)
            if worker.proc.poll() is not None:
                self._drain(worker)
                if worker in self.workers:
                    self._retire(worker)
            elif limit is not None and worker.outstanding and now - worker.last > limit:
                if worker.ready:
                    self._retire(worker, f"timed out: no result after {limit:g} s; worker killed")
                else:
                    self._retire(worker, f"no answer after {limit:g} s")

    def _limit(self, worker: Worker) -> float | None:
        """Seconds a busy worker may go without an answer; None: no limit. Without --timeout
        a worker that has not started yet gets what any interpreter gets to answer a question."""
        if self.timeout is not None:
            return self.timeout
        return None if worker.ready else QUERY_TIMEOUT

    def _wait(self) -> float:
        """How long ``select`` may wait: until the nearest deadline, and never beyond a tick."""
        now = time.monotonic()
        wait = TICK
        for worker in self.workers:
            limit = self._limit(worker)
            if limit is not None and worker.outstanding:
                wait = min(wait, worker.last + limit - now)
        return max(0.0, wait)

    # -- talking to a worker ---------------------------------------------------------------

    def _feed(self, worker: Worker) -> None:
        # Small batches at the end: the last files are spread over every worker.
        budget = max(self.remaining // (self.jobs * 4), 1)
        batch: list[int] = []
        size = 0
        while (
            self.queue
            and len(batch) < 64
            and (not batch or size + self.tasks[self.queue[0]].size <= budget)
        ):
            index = self.queue.popleft()
            batch.append(index)
            size += self.tasks[index].size
        # The levels of one source that may link to each other stay together, in order.
        while self.queue and self._together(batch[-1], self.queue[0]):
            index = self.queue.popleft()
            batch.append(index)
            size += self.tasks[index].size
        self.remaining -= size
        if not worker.outstanding:
            worker.last = time.monotonic()
        worker.outstanding.extend(batch)
        line = json.dumps([self._request(index) for index in batch])
        if not worker.pending:
            self.selector.register(worker.in_fd, selectors.EVENT_WRITE, (worker, "in"))
        worker.pending += line.encode("ascii") + b"\n"
        self._write(worker)

    def _together(self, last: int, following: int) -> bool:
        task = self.tasks[following]
        return bool(task.dupes) and task.source == self.tasks[last].source

    def _request(self, index: int) -> dict[str, object]:
        task = self.tasks[index]
        return {
            "id": index,
            "source": task.source,
            "dfile": task.dfile,
            "level": task.level,
            "anchor": task.anchor,
            "dirs": list(task.dirs),
            "create": task.create,
            "name": task.name,
            "dupes": list(task.dupes),
        }

    def _write(self, worker: Worker) -> None:
        """As much of the pending input as its pipe takes now."""
        try:
            written = os.write(worker.in_fd, worker.pending)
        except BlockingIOError:
            return
        except OSError:  # it closed its input: it has exited, or is about to
            self._drain(worker)
            if worker in self.workers:
                self._retire(worker)
            return
        del worker.pending[:written]
        if not worker.pending:
            self.selector.unregister(worker.in_fd)

    def _on_ready(self, worker: Worker, stream: str) -> None:
        if stream == "in":
            self._write(worker)
            return
        fd = worker.err_fd if stream == "err" else worker.out_fd
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if stream == "err":
            worker.stderr_tail = (worker.stderr_tail + chunk)[-2000:]
            if not chunk:
                self.selector.unregister(fd)
            return
        if not chunk:  # it closed its output: it has exited, or is about to
            self._retire(worker)
            return
        self._take(worker, chunk)

    def _drain(self, worker: Worker) -> None:
        """Whatever a worker that ended had still written: its last answers, its last words."""
        for fd, is_err in ((worker.err_fd, True), (worker.out_fd, False)):
            while worker in self.workers:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                if is_err:
                    worker.stderr_tail = (worker.stderr_tail + chunk)[-2000:]
                else:
                    self._take(worker, chunk)

    def _take(self, worker: Worker, chunk: bytes) -> None:
        """Answers from a worker's output."""
        *lines, worker.partial = (worker.partial + chunk).split(b"\n")
        for line in lines:
            message = _parse(line)
            if message == "ready":
                worker.ready = True
            elif isinstance(message, _Answer):
                if not worker.outstanding or message.ident != worker.outstanding[0]:
                    self._retire(worker, f"the {self.name} worker answered out of turn")
                    return
                worker.outstanding.popleft()
                worker.last = time.monotonic()
                self._settle(message.ident, message.outcome)

    def _settle(self, index: int, outcome: Outcome) -> None:
        self.outcomes[index] = outcome
        self.done += 1
        if self.progress is not None:
            self.progress(self.name, self.done, len(self.tasks))
