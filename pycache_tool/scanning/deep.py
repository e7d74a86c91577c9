"""The deep check (``audit --deep``, ``compile --deep``): is the code after a valid header
what import can load?

Marshal's code-object layout changes from version to version, so each file is checked inside
an interpreter of its own version and magic number: a target asked with ``--python`` or the
one running the tool. One worker process per such interpreter (``deep_worker.py``) reads
whole files in batches and unmarshals them as import does. A file is reported damaged only
on that interpreter's word; with no interpreter of its version at hand, or when the check
cannot tell, it is "not checked", never guessed.

Only caches that import would read are checked (``loads`` true): the header of any other
already tells that its code never runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence

from pycache_tool.bytecode import interpreters
from pycache_tool.bytecode.interpreters import Interpreter
from pycache_tool.bytecode.pyc import magic_info
from pycache_tool.scanning.records import Record, Status

OK, DAMAGED, NOT_CHECKED = "ok", "damaged", "not checked"
_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deep_worker.py")
_RESTARTS = 3  # workers that may die before this interpreter's caches go unchecked


class DeepCheck:
    """Checks records in batches; ``close`` ends the workers. ``unchecked`` names the
    Pythons (records' ``python`` labels) whose caches could not be checked, and why."""

    def __init__(
        self, targets: Sequence[Interpreter], unchecked: dict[str, str] | None = None
    ) -> None:
        self._by_python: dict[str, Interpreter] = {}
        for target in [*targets, interpreters.current()]:
            if target.executable and target.python not in self._by_python:
                self._by_python[target.python] = target
        self._workers: dict[str, _Worker] = {}
        self._deaths: dict[str, int] = {}
        self.unchecked: dict[str, str] = {} if unchecked is None else unchecked

    def check(self, records: Sequence[Record]) -> list[Record]:
        """``records`` with the verdict of the deep check (those import never reads as they are)."""
        results = list(records)
        jobs: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            if not record.loads or record.python is None or record.stamp is None:
                continue
            interpreter = self._by_python.get(record.python)
            if interpreter is None or interpreter.magic != record.magic:
                results[i] = record._replace(deep=NOT_CHECKED)
                self.unchecked.setdefault(
                    record.python,
                    "no interpreter of its version at hand"
                    if interpreter is None
                    else f"{interpreter.executable} writes magic {interpreter.magic}, not"
                    f" {record.magic}",
                )
                continue
            jobs.setdefault(record.python, []).append(i)
        for python, answers in self._ask(jobs, records).items():
            for i, answer in zip(jobs[python], answers or ()):
                results[i] = _verdict(records[i], answer)
            if answers is None:
                for i in jobs[python]:
                    results[i] = results[i]._replace(deep=NOT_CHECKED)
        return results

    def filenames(self, records: Sequence[Record]) -> list[str | None]:
        """The file name each cache's code records (``co_filename``), read inside an
        interpreter of its version and magic; None where that cannot be told (no such
        interpreter at hand, a file that changed since it was classified or that does not
        unmarshal to code): never guessed."""
        found: list[str | None] = [None] * len(records)
        jobs: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            interpreter = self._by_python.get(record.python or "")
            if record.stamp is not None and interpreter and interpreter.magic == record.magic:
                jobs.setdefault(interpreter.python, []).append(i)
        for python, answers in self._ask(jobs, records).items():
            for i, answer in zip(jobs[python], answers or ()):
                if _verdict(records[i], answer).deep == OK:
                    assert isinstance(answer, list)
                    name = answer[4] if len(answer) > 4 else None
                    found[i] = name if isinstance(name, str) else None
        return found

    def _ask(
        self, jobs: dict[str, list[int]], records: Sequence[Record]
    ) -> dict[str, list[object] | None]:
        """Each interpreter's answers about the records its job names: every worker is sent
        its batch at once, then every answer is read. None: the worker could not start, or
        stopped."""
        replies: dict[str, list[object] | None] = {}
        sent: list[tuple[str, _Worker]] = []
        for python, indexes in jobs.items():
            worker = self._worker(python)
            batch = [(records[i].path, _header_size(records[i])) for i in indexes]
            if worker is not None and worker.send(batch):
                sent.append((python, worker))
            else:
                self._lost(python, worker)
                replies[python] = None
        for python, worker in sent:
            replies[python] = worker.receive(len(jobs[python]))
            if replies[python] is None:
                self._lost(python, worker)
        return replies

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()

    def _worker(self, python: str) -> _Worker | None:
        worker = self._workers.get(python)
        if worker is None and self._deaths.get(python, 0) < _RESTARTS:
            worker = _Worker.start(self._by_python[python])
            if worker is not None:
                self._workers[python] = worker
            else:
                self._deaths[python] = _RESTARTS
        return worker

    def _lost(self, python: str, worker: _Worker | None) -> None:
        """A worker that could not start or stopped: its batch goes unchecked."""
        executable = self._by_python[python].executable
        how = "stopped" if worker is not None else "could not start"
        self.unchecked.setdefault(python, f"the check in {executable} {how}")
        if worker is not None:
            worker.close()
            self._workers.pop(python, None)
            self._deaths[python] = self._deaths.get(python, 0) + 1


def _header_size(record: Record) -> int:
    info = magic_info(record.magic or 0)
    return info.header_size if info is not None else 16


def _verdict(record: Record, answer: object) -> Record:
    if not isinstance(answer, list) or len(answer) < 4:
        return record._replace(deep=NOT_CHECKED)
    verdict, detail, inode, size = answer[:4]
    assert record.stamp is not None
    if verdict not in ("ok", "bad") or (inode, size) != record.stamp[:2]:
        return record._replace(deep=NOT_CHECKED)  # unreadable, unsure, or changed since
    if verdict == "ok":
        return record._replace(deep=OK)
    return record._replace(
        status=Status.CORRUPT,
        loads=False,
        deep=DAMAGED,
        reason=f"bad marshal data after a valid header ({detail}): import fails, it does not"
        " recompile",
    )


class _Worker:
    """One process of an interpreter of the caches' version, fed batches over a pipe."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    @classmethod
    def start(cls, interpreter: Interpreter) -> _Worker | None:
        assert interpreter.executable is not None
        with open(_WORKER, encoding="utf-8") as f:
            code = interpreters.OWN_MODULES_ONLY + f.read()
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        try:
            proc = subprocess.Popen(
                [interpreter.executable, "-s", "-B", "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=os.sep,
                text=True,
                encoding="ascii",
                errors="replace",
            )
        except OSError:
            return None
        worker = cls(proc)
        ready = worker._line()
        if not isinstance(ready, dict) or ready.get("ready") != interpreter.magic:
            worker.close()
            return None
        return worker

    def send(self, batch: list[tuple[str, int]]) -> bool:
        items = [[os.fsencode(path).decode("latin-1"), size] for path, size in batch]
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(items) + "\n")
            self.proc.stdin.flush()
        except OSError:
            return False
        return True

    def receive(self, count: int) -> list[object] | None:
        answers = self._line()
        if not isinstance(answers, list) or len(answers) != count:
            return None
        return answers

    def _line(self) -> object:
        """The next JSON line it writes; None when it has stopped (or wrote something else)."""
        assert self.proc.stdout is not None
        while True:
            try:
                line = self.proc.stdout.readline()
            except OSError:
                return None
            if not line:
                return None
            try:
                return json.loads(line)
            except ValueError:
                continue  # not ours: the interpreter's start-up printed it

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
