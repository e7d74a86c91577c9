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
stopped at any point leaves either the old cache or the new one, never half of one.
"""

from __future__ import annotations  # annotations stay strings: 3.8 never evaluates them

import importlib.util
import json
import py_compile
import signal
import sys
import warnings
from typing import BinaryIO


def _answer(out: BinaryIO, item: object) -> None:
    out.write(json.dumps(item).encode("ascii") + b"\n")
    out.flush()


def _compile_one(
    source: str, cfile: str, dfile: str | None, level: int, mode: py_compile.PycInvalidationMode
) -> list[object] | None:
    try:
        py_compile.compile(
            source,
            cfile=cfile,
            dfile=dfile,
            doraise=True,
            optimize=level,
            invalidation_mode=mode,
        )
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
            problem = _compile_one(source, cfile, dfile, level, mode)
            _answer(out, [ident, "ok"] if problem is None else [ident] + problem)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # the parent went away: nothing left to report to
        pass
