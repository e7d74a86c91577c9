"""The deep check's worker: runs inside an interpreter of the caches' own version (2.7 on).

It imports nothing from pycache_tool, only the standard library, and stays valid Python 2.7
(no f-strings, type comments instead of annotations). The parent runs its source with ``-c``
(see ``deep.py``). For each file it does what import does after a header is accepted:
``marshal.loads`` of the rest, then "is this a code object?". It never runs the code.

Protocol, over its stdin and stdout (one JSON document per line, ASCII):
- on start it writes ``{"ready": MAGIC}``;
- the parent writes batches: ``[[path, header size], ...]``, each path its file-system bytes
  decoded as Latin-1 (any name survives, whatever the encodings of both ends);
- the worker answers each batch with one line, ``[[verdict, detail, inode, size, filename],
  ...]``: "ok"; "bad" (import fails on it: ``detail`` says how); "unsure" (this check cannot
  tell: out of memory); "unread" (the file could not be read: ``detail`` says why).
  ``filename``: with "ok", the file name the code records (``co_filename``), or None when
  it is not text.
"""

import json
import marshal
import os
import stat
import sys
import types

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_NOATIME = getattr(os, "O_NOATIME", 0)  # reading must not dirty the inode (see classify.py)
_LONGEST = 300  # characters of a message: answer lines stay small


def _read(path):  # type: (bytes) -> tuple[bytes, os.stat_result]
    try:
        fd = os.open(path, _FLAGS | _NOATIME)
    except OSError:
        if not _NOATIME:
            raise
        fd = os.open(path, _FLAGS)  # not ours: O_NOATIME needs the owner
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), info
    finally:
        os.close(fd)


def _text(message):  # type: (object) -> str
    """A message as text, cut short (on 2.7 ``str`` is bytes, in whatever encoding)."""
    text = str(message)
    decode = getattr(text, "decode", None)  # only on 2.7, where str is bytes
    if decode is not None:
        text = decode("utf-8", "replace")
    return text[:_LONGEST]


def _check(path, header_size):  # type: (bytes, int) -> list[object]
    try:
        data, info = _read(path)
    except (OSError, IOError) as exc:  # noqa: UP024 - IOError is not OSError on 2.7
        return ["unread", _text(exc), None, None]
    verdict, detail, filename = "ok", "", None
    try:
        code = marshal.loads(data[header_size:])
    except MemoryError:
        verdict, detail = "unsure", "out of memory"
    except Exception as exc:  # whatever marshal raises, import raises too
        verdict, detail = "bad", type(exc).__name__ + ": " + _text(exc)
    else:
        if not isinstance(code, types.CodeType):
            what = type(code).__name__
            verdict, detail = "bad", "ImportError: not a code object but " + what
        else:
            filename = _filename(code)
    return [verdict, detail, info.st_ino, info.st_size, filename]


def _filename(code):  # type: (types.CodeType) -> object
    """``co_filename`` as text for JSON; None if it is none (bytes on 2.7 that are not UTF-8)."""
    name = code.co_filename
    decode = getattr(name, "decode", None)  # only on 2.7, where str is bytes
    if decode is not None:
        try:
            name = decode("utf-8")
        except UnicodeDecodeError:
            return None
    return name


def main():  # type: () -> None
    # Text streams: every line is ASCII JSON, on 2.7 and 3.x alike.
    try:
        import importlib.util

        magic = bytearray(importlib.util.MAGIC_NUMBER)
    except (ImportError, AttributeError):
        import imp

        magic = bytearray(imp.get_magic())
    sys.stdout.write(json.dumps({"ready": magic[0] | magic[1] << 8}) + "\n")
    sys.stdout.flush()
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        answers = [_check(path.encode("latin-1"), size) for path, size in json.loads(line)]
        sys.stdout.write(json.dumps(answers) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
