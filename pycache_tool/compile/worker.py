"""The compile worker: runs inside the *target* interpreter (CPython 3.8+ or PyPy 3).

It imports nothing from pycache_tool (the target may not have it installed), only the
standard library, and must stay valid Python 3.8: no newer syntax, no runtime generics.

Protocol, over its stdin and stdout (one JSON document per line, ASCII):
- on start it writes ``{"ready": [magic, cache_tag]}``;
- the parent writes batches: a list of ``[id, source, cfile, dfile or null, level]``;
- the worker answers every item as soon as it is done, in order, so the parent knows which
  file it is working on (and whom to blame if it dies or hangs):
  ``[id, "ok"]``, ``[id, "syntax", message, line, column]``, ``[id, "os", message]`` or
  ``[id, "error", message]``;
- end of input, or SIGTERM (after the file in hand): the worker exits.

``py_compile.compile`` writes atomically (a temp file renamed into place), so a worker
stopped at any point leaves either the old cache or the new one, never half of one. The
write itself is this module's ``_write_atomic`` (see there for why).
"""

from __future__ import annotations  # annotations stay strings: 3.8 never evaluates them

import importlib._bootstrap_external
import importlib.util
import json
import os
import py_compile
import signal
import sys
import warnings
from typing import BinaryIO

_ATTEMPTS = 5


def _write_atomic(path: str, data: bytes, mode: int = 0o666) -> None:
    """importlib's atomic write (temp file, then ``os.replace``), made safe for two cases.

    - A full disk: up to 3.13.0 a short write went unnoticed and the truncated file was renamed
      into place, a cache that makes the next import fail (gh-126606). Every byte is written
      here, or the write fails and the temp file goes.
    - A concurrent ``clean`` (or another writer): it may remove ``__pycache__`` after
      py_compile made it, or the temp file before the rename, or hold the same temp name. The
      write starts again, a few times, instead of failing.
    """
    error: OSError | None = None
    for attempt in range(_ATTEMPTS):
        # Digits only, as importlib's own names: debris a kill leaves is known for what it is.
        temp = f"{path}.{os.getpid()}{attempt}"
        try:
            fd = os.open(temp, os.O_EXCL | os.O_CREAT | os.O_WRONLY, mode & 0o666)
        except FileExistsError as exc:  # another writer's temp file: take another name
            error = exc
            continue
        except FileNotFoundError as exc:  # __pycache__ was removed: make it again
            error = exc
            try:
                os.mkdir(os.path.dirname(path))  # that level only: never a source directory
            except FileExistsError:
                pass
            continue
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(temp, path)
            return
        except FileNotFoundError as exc:  # the temp file was removed before the rename
            error = exc
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
    assert error is not None
    raise error


# py_compile writes through this very name (3.4+, PyPy too).
importlib._bootstrap_external._write_atomic = _write_atomic  # type: ignore[attr-defined]


def _answer(out: BinaryIO, item: object) -> None:
    out.write(json.dumps(item).encode("ascii") + b"\n")
    out.flush()


def _compile_one(
    source: str,
    cfile: str,
    dfile: str | None,
    level: int,
    mode: py_compile.PycInvalidationMode,
    attempts: int = _ATTEMPTS,
) -> None:
    try:
        py_compile.compile(
            source,
            cfile=cfile,
            dfile=dfile,
            doraise=True,
            optimize=level,
            invalidation_mode=mode,
        )
    except FileExistsError:
        # py_compile refuses a cfile that is a symlink or not a regular file. It asks exists()
        # and then isfile(): a cache removed in between (a concurrent clean) looks like
        # neither, and asking again gets it right.
        if attempts == 1 or not _regular_or_absent(cfile):
            raise
        _compile_one(source, cfile, dfile, level, mode, attempts - 1)


def _regular_or_absent(path: str) -> bool:
    return not os.path.islink(path) and (os.path.isfile(path) or not os.path.lexists(path))


def _problem(
    source: str, cfile: str, dfile: str | None, level: int, mode: py_compile.PycInvalidationMode
) -> list[object] | None:
    """What went wrong compiling one file, as the protocol answers it; None if nothing did."""
    try:
        _compile_one(source, cfile, dfile, level, mode)
    except py_compile.PyCompileError as exc:
        value = exc.exc_value
        if isinstance(value, SyntaxError):  # also IndentationError, bad encodings
            return [
                "syntax",
                f"{type(value).__name__}: {value.msg}",
                value.lineno,
                value.offset,
            ]
        return ["syntax", f"{exc.exc_type_name}: {value}", None, None]
    except OSError as exc:  # unreadable source, unwritable directory, symlinked cfile
        where = f": {exc.filename}" if exc.filename else ""
        return ["os", f"{type(exc).__name__}: {exc.strerror or exc}{where}"]
    except Exception as exc:  # one bad file must not take the batch down
        return ["error", f"{type(exc).__name__}: {exc}"]
    return None


_stop: list[int] = []


def _stop_after_this_file(signum: int, frame: object) -> None:
    _stop.append(signum)


def main() -> None:
    # Ctrl-C reaches the whole process group; the parent decides when to stop. It says so
    # with SIGTERM, and the file in hand is finished first: no temp file is left behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_after_this_file)
    # Compiler warnings (invalid escapes and the like) are the source's business, not ours.
    warnings.simplefilter("ignore")
    mode = py_compile.PycInvalidationMode[sys.argv[1].upper().replace("-", "_")]
    out = sys.stdout.buffer
    magic = importlib.util.MAGIC_NUMBER
    _answer(out, {"ready": [magic[0] | magic[1] << 8, sys.implementation.cache_tag]})
    for line in sys.stdin.buffer:
        for ident, source, cfile, dfile, level in json.loads(line.decode("ascii")):
            if _stop:
                return
            problem = _problem(source, cfile, dfile, level, mode)
            _answer(out, [ident, "ok"] if problem is None else [ident] + problem)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # the parent went away: nothing left to report to
        pass
