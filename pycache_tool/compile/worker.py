"""The compile worker: runs inside the *target* interpreter (CPython 3.8+ or PyPy 3).

It imports nothing from pycache_tool (the target may not have it installed), only the
standard library, and must stay valid Python 3.8: no newer syntax, no runtime generics.

Started as ``worker.py MODE [CACHE_DIR]``. Protocol, over its stdin and stdout (one JSON
document per line, ASCII):
- on start it writes ``{"ready": true, "magic": M, "tag": T}``;
- the parent writes batches: a list of tasks ``{"id", "source", "dfile", "level", "anchor",
  "dirs", "create", "name", "dupes"}``: compile ``source`` into the file ``name`` of the
  directory ``anchor/dirs...``, of which the last ``create`` directories may be made; when a
  file named in ``dupes`` (the caches of the source's other levels, in that directory) holds
  the same bytes, ``name`` becomes a second link to it instead (``--hardlink-dupes``);
- the worker answers every task as soon as it is done, in order, so the parent knows which
  file it is working on (and whom to blame if it dies or hangs): ``{"id", "outcome",
  "warnings"}`` with outcome "ok", "syntax" (with "message", "line", "column"), "io" or
  "skipped" (with "message"); "warnings" lists what the compiler warned of (SyntaxWarning,
  DeprecationWarning), each ``[category, message, line]``; with a compile cache, also
  "cache": "hit", "miss" or "damaged" (a damaged entry was found, compiled again and
  replaced), and "cache_error" once, when the cache failed (the worker goes on without it);
- end of input, SIGTERM, or a parent that went away: the worker exits after the file in hand.

Every write is made inside a directory opened without following symlinks, reached from the
anchor (a real directory: a root of the scan, or the pycache_prefix) one name at a time; the
cache's temp file is created there with O_EXCL|O_NOFOLLOW and renamed into place by name in
that same directory. A symlink swapped in anywhere on the path after the scan cannot redirect
a write: the task is skipped. A worker stopped at any point leaves the old cache or the new
one, never half of one.

Every pyc body comes out of ``relocate.place`` (the exact bytes, wherever an entry of the
compile cache was filled) and every entry is read and written by ``cache.Session``: two
modules beside this one, loaded by path under private names.
"""

from __future__ import annotations  # annotations stay strings: 3.8 never evaluates them

import hashlib
import importlib.util
import json
import os
import signal
import stat
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO


def _sibling(name: str) -> Any:
    """A module beside this file, under a name no module of the target's own can have."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location("_pycache_tool_" + name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from pycache_tool.compile import cache, relocate
else:
    cache = _sibling("cache")
    relocate = _sibling("relocate")

_ATTEMPTS = 5
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC
_BELOW = _DIRECTORY | os.O_NOFOLLOW  # every directory below the anchor
_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC  # never blocks on a FIFO


class Skip(Exception):
    """The cache is not this run's to write: a symlink (or not a directory) is in the way."""


def _open_dirs(anchor: str, dirs: list[str], create: int) -> int:
    """A descriptor of ``anchor/dirs...``, each name opened inside the last without following
    a symlink; the last ``create`` names are made when missing (``__pycache__``, the
    directories of a pycache_prefix tree). A symlink or a file on the way: Skip, saying so."""
    try:
        return cache.open_below(anchor, tuple(dirs), create)
    except cache.InTheWay as exc:
        raise Skip(
            f"{exc.strerror}: never written through" if exc.symlink else exc.strerror
        ) from None


def _write(task: dict[str, Any], data: bytes, mode: int) -> None:
    """``data`` into the task's cache, atomically (a temp file renamed into place).

    As importlib's own write, with three differences. Everything happens inside the
    directory ``_open_dirs`` reached without following a symlink. A full disk: up to 3.13.0 a
    short write went unnoticed and the truncated file was renamed into place (gh-126606); here
    every byte is written or the write fails and the temp file goes. A concurrent ``clean`` (or
    another writer) may remove ``__pycache__`` after it was made, or the temp file before the
    rename, or hold the same temp name: the write starts again, a few times, instead of
    failing.
    """
    name = task["name"]
    error: OSError | None = None
    for attempt in range(_ATTEMPTS):
        # Digits only, as importlib's own names: debris a kill leaves is known for what it is.
        temp = f"{name}.{os.getpid()}{attempt}"
        try:
            dir_fd = _open_dirs(task["anchor"], task["dirs"], task["create"])
        except FileNotFoundError as exc:  # the __pycache__ just made was removed: again
            error = exc
            continue
        try:
            try:
                mode_there = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                pass
            else:
                if not stat.S_ISREG(mode_there):
                    raise Skip("not a regular file: never written through")
            linked = _link_dupe(dir_fd, task.get("dupes") or (), data, temp)
            if not linked:
                try:
                    fd = os.open(temp, _TEMP, mode & 0o666, dir_fd=dir_fd)
                except (FileExistsError, FileNotFoundError) as exc:
                    error = exc  # another writer's temp name, or the directory was removed
                    continue
            try:
                if not linked:
                    try:
                        cache.write_all(fd, data)
                    finally:
                        os.close(fd)
                os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                return
            except FileNotFoundError as exc:  # the temp file (or its directory) was removed
                error = exc
            except BaseException:
                try:
                    os.unlink(temp, dir_fd=dir_fd)
                except OSError:
                    pass
                raise
        finally:
            os.close(dir_fd)
    assert error is not None
    raise error


def _link_dupe(dir_fd: int, dupes: Sequence[str], data: bytes, temp: str) -> bool:
    """Make ``temp`` a second link to the first of ``dupes`` that is a regular file holding
    exactly ``data``; False when none is. The link is checked to be the very file whose bytes
    were compared: one swapped meanwhile is never linked."""
    for dupe in dupes:
        try:
            fd = os.open(dupe, _READ, dir_fd=dir_fd)
        except OSError:
            continue  # not there, or a symlink
        try:
            st = os.fstat(fd)
            same = stat.S_ISREG(st.st_mode) and st.st_size == len(data) and _read(fd) == data
        except OSError:
            same = False
        finally:
            os.close(fd)
        if not same:
            continue
        try:
            os.link(dupe, temp, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue  # a temp name taken, too many links, a file system without links
        linked = os.stat(temp, dir_fd=dir_fd, follow_symlinks=False)
        if (linked.st_dev, linked.st_ino) == (st.st_dev, st.st_ino):
            return True
        os.unlink(temp, dir_fd=dir_fd)
    return False


def _read(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _outcome(task: dict[str, Any], invalidation: str) -> dict[str, Any]:
    """What happened to one task, as the protocol answers it."""
    source = task["source"]
    answer: dict[str, Any] = {"id": task["id"], "outcome": "ok"}
    try:
        with open(source, "rb") as f:  # a symlinked source is followed, as import does
            st = os.fstat(f.fileno())  # before reading: an edit meanwhile leaves the pyc stale
            data = f.read()
    except OSError as exc:
        answer.update(outcome="io", message=_os_error(exc, source))
        return answer
    try:
        pyc = _header(invalidation, data, st) + _body(task, data, answer)
    except SyntaxError as exc:  # also IndentationError, bad encodings
        message = f"{type(exc).__name__}: {exc.msg}"
        answer.update(outcome="syntax", message=message, line=exc.lineno, column=exc.offset)
        return answer
    except Exception as exc:  # a null byte before 3.12 (ValueError), and the like
        message = f"{type(exc).__name__}: {exc}"
        answer.update(outcome="syntax", message=message, line=None, column=None)
        return answer
    try:
        # The source's permissions, writable by its owner: importlib's own rule.
        _write(task, pyc, st.st_mode | 0o200)
    except Skip as exc:
        answer.update(outcome="skipped", message=str(exc))
    except OSError as exc:  # named by the cache, never by its temp file
        answer.update(outcome="io", message=_os_error(exc, _cache(task)))
    except Exception as exc:  # one bad file must not take the batch down
        answer.update(outcome="io", message=f"{type(exc).__name__}: {exc}")
    return answer


def _header(invalidation: str, data: bytes, st: os.stat_result) -> bytes:
    """The pyc's 16 bytes, from this tree's source (PEP 552)."""
    if invalidation == "timestamp":
        fields = (0, int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF)
        return importlib.util.MAGIC_NUMBER + b"".join(n.to_bytes(4, "little") for n in fields)
    flags = 3 if invalidation == "checked-hash" else 1
    source_hash: bytes = importlib.util.source_hash(data)
    return importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little") + source_hash


_caches: list[cache.Session] = []  # the compile cache, when the worker was given one


def _body(task: dict[str, Any], data: bytes, answer: dict[str, Any]) -> bytes:
    """The pyc's marshal data: a template from the cache (with the warnings its compile gave)
    or from a compile, put in place."""
    where = task["dfile"] or task["source"]
    level = task["level"]
    digest = hashlib.sha256(data).digest()
    found = None
    if _caches:
        found, state = _caches[0].get(digest, level)
        if state is not None:
            answer["cache"] = state
    if found is not None:
        try:
            body: bytes = relocate.place(found[:3], where)
        except ValueError:  # a whole entry around a template that lies
            answer["cache"] = "damaged"
        else:
            if found[3]:
                answer["warnings"] = found[3]
            return body
    # Whatever the environment's warning filters say: every warning is kept and reported
    # (never shown here, never turned into an error).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = compile(data, where, "exec", dont_inherit=True, optimize=level)
        finally:
            if caught:
                answer["warnings"] = [
                    [w.category.__name__, str(w.message), w.lineno] for w in caught
                ]
    template = relocate.template(code, f"<pycache-tool {digest.hex()}>")
    if template is None:  # the source holds the placeholder: compiled for its place, not kept
        return relocate.normalized(code, where)
    if _caches:
        _caches[0].put(digest, level, template, answer.get("warnings", []))
    return relocate.place(template, where)


def _os_error(exc: OSError, path: str) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}: {path}"


def _cache(task: dict[str, Any]) -> str:
    path: str = os.path.join(task["anchor"], *task["dirs"], task["name"])
    return path


def _answer(out: BinaryIO, item: object) -> None:
    out.write(json.dumps(item).encode("ascii") + b"\n")
    out.flush()


_stop: list[int] = []


def _stop_after_this_file(signum: int, frame: object) -> None:
    _stop.append(signum)


def main() -> None:
    # Ctrl-C reaches the whole process group; the parent decides when to stop. It says so
    # with SIGTERM, and the file in hand is finished first: no temp file is left behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_after_this_file)
    # Compiler warnings are caught around each compile() and reported; nothing else is shown.
    warnings.simplefilter("ignore")
    invalidation = sys.argv[1]
    if len(sys.argv) > 2:
        _caches.append(cache.Session(sys.argv[2]))
    try:
        _serve(invalidation)
    finally:
        for used in _caches:
            used.close()


def _serve(invalidation: str) -> None:
    # A parent that dies is noticed within one file: its pipes close (an answer fails with
    # EPIPE, a read sees EOF) and, should a pipe outlive it, this process gets a new parent.
    parent = os.getppid()
    out = sys.stdout.buffer
    magic = importlib.util.MAGIC_NUMBER
    tag = sys.implementation.cache_tag
    _answer(out, {"ready": True, "magic": magic[0] | magic[1] << 8, "tag": tag})
    for line in sys.stdin.buffer:
        for task in json.loads(line.decode("ascii")):
            if _stop or os.getppid() != parent:
                return
            answer = _outcome(task, invalidation)
            if _caches:
                failure = _caches[0].failure()  # its lookup's or its entry's, said once
                if failure is not None:
                    answer["cache_error"] = failure
            _answer(out, answer)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # the parent went away: nothing left to report to
        pass
