"""The compile cache's entries: the key, the file format, and reading and writing one entry.

Shared by the tool and the compile worker, which loads this file inside the *target*
interpreter: standard library only, valid Python 3.8.

An entry holds a module's template (``relocate.py``): its marshal data with a placeholder file
name, which a compile at any path turns into that path's pyc body; and the warnings the
compiler gave (a hit reports them as a compile would). The key is what the
template depends on, and nothing else:

- the source's bytes (their SHA-256; never an mtime);
- the target interpreter: implementation, full version string (with its build), cache tag,
  magic number and marshal version (``identity()``);
- the optimization level;
- the cache's format (the ``v1`` directory).

Not in the key, because the template does not depend on them: the invalidation mode and the
source's mtime and size (the 16-byte header is written for each tree from its own source), and
the file name recorded in the code objects (``--strip-prefix``, ``--prepend-prefix`` or the
source's path: put in place at each write).

Layout: ``DIR/v1/<tag>-<identity hash>/<2 hex>/<62 hex>.<level>``, one directory per
interpreter. An entry file is a header (magic, key, SHA-256 checksum, the placeholder's offset
and length, the sizes of the body and of the warnings) and the body, then the warnings (JSON). It is written to a temp file in its own directory
and renamed into place, so a reader sees the whole entry or none; the checksum is verified
before every use, so a truncated, flipped or foreign file is never used (nor fsync needed: a
crash that leaves a short file leaves a damaged entry, which is replaced). Nothing here locks:
two writers of one key write the same bytes, and the last rename wins. ``Session`` is the
cache as a compile worker uses it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import marshal
import os
import re
import stat
import struct
import sys
import time
from typing import Any

LAYOUT = "v1"
TEMP_PREFIX = ".tmp."
IDENTITY = "identity.json"  # beside an interpreter's entries: what its directory name stands for
MAGIC = b"PCTC\x00\x01\r\n"
HEADER = struct.Struct("<8s32s32sIIII")  # magic, key, checksum, offset, length, sizes
TOUCH_AFTER = 3600.0  # seconds: a hit refreshes an entry's mtime (its last use) at most this often
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC
_BELOW = _DIRECTORY | os.O_NOFOLLOW  # every directory below the cache's root
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC


class Damaged(Exception):
    """An entry that must not be used: truncated, corrupted, foreign, or not a file."""


def identity() -> dict[str, object]:
    """What names this interpreter in the key (run inside the target)."""
    import importlib.util

    return {
        "implementation": sys.implementation.name,
        "version": sys.version,
        "tag": sys.implementation.cache_tag,
        "magic": importlib.util.MAGIC_NUMBER.hex(),
        "marshal": marshal.version,
    }


def identity_name(info: dict[str, object]) -> str:
    """The interpreter's directory in the cache: its tag, then a hash of its whole identity."""
    tag = re.sub(r"[^A-Za-z0-9._-]", "_", str(info.get("tag")))
    digest = hashlib.sha256(json.dumps(info, sort_keys=True).encode("utf-8")).hexdigest()
    return f"{tag}-{digest[:16]}"


def entry_key(name: str, level: int, digest: bytes) -> bytes:
    """The key an entry carries: a file moved to another name or directory does not match."""
    text = f"pycache-tool cache {LAYOUT}\0{name}\0{level}\0".encode()
    return hashlib.sha256(text + digest).digest()


def encode(key: bytes, template: tuple[bytes, int, int], said: list[Any]) -> bytes:
    """An entry's bytes: the template, and the warnings its compile gave."""
    body, offset, length = template
    extra = json.dumps(said).encode("ascii")
    fields = struct.pack("<IIII", offset, length, len(body), len(extra))
    checksum = hashlib.sha256(key + fields + body + extra).digest()
    return MAGIC + key + checksum + fields + body + extra


def decode(data: bytes, key: bytes) -> tuple[bytes, int, int, list[Any]]:
    """The template and warnings in an entry's bytes, after every check; else Damaged."""
    if len(data) < HEADER.size:
        raise Damaged("shorter than its header")
    magic, found, checksum, offset, length, size, extra = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Damaged("not an entry of this format")
    if found != key:
        raise Damaged("an entry of another key")
    if len(data) != HEADER.size + size + extra:
        raise Damaged("truncated" if len(data) < HEADER.size + size + extra else "trailing bytes")
    rest = data[HEADER.size :]
    if hashlib.sha256(key + data[HEADER.size - 16 : HEADER.size] + rest).digest() != checksum:
        raise Damaged("checksum mismatch")
    if not (0 < length and offset + length <= size):
        raise Damaged("placeholder outside the body")
    try:
        said = json.loads(rest[size:])
    except ValueError:
        raise Damaged("warnings that are not JSON") from None
    if not isinstance(said, list):
        raise Damaged("warnings that are not a list")
    return rest[:size], offset, length, said


class Store:
    """One interpreter's entries in the cache directory ``root``. Below ``root`` (named by the
    user, as a PATH is) no symlink is followed: every directory is opened inside the last one
    without following one, and kept open (``close`` ends them)."""

    def __init__(self, root: str, name: str) -> None:
        self.root = root
        self.name = name
        self.directory = os.path.join(root, LAYOUT, name)
        self._shards: dict[str, int] = {}  # "3f" -> the open directory of its entries

    def _shard(self, shard: str, create: bool) -> int | None:
        """The directory of entries ``shard``; None when it does not exist (and not ``create``)."""
        fd = self._shards.get(shard)
        if fd is None:
            try:
                fd = self._shards[shard] = open_below(
                    self.root, (LAYOUT, self.name, shard), 3 if create else 0
                )
            except FileNotFoundError:
                if create:
                    raise
                return None
        return fd

    def get(
        self, digest: bytes, level: int, touch: bool = True
    ) -> tuple[bytes, int, int, list[Any]] | None:
        """The verified entry of this source and level (template and warnings); None if there
        is none. ``touch``: mark it used (its mtime, at most every TOUCH_AFTER seconds), for
        prune.

        Raises Damaged for an entry that fails a check, OSError when the cache cannot be read.
        """
        text = digest.hex()
        shard = self._shard(text[:2], create=False)
        if shard is None:
            return None
        name = f"{text[2:]}.{level}"
        try:
            fd = os.open(name, _READ, dir_fd=shard)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR) or not _is_file(name, shard):
                raise Damaged("a symlink, or not a file") from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Damaged("not a regular file")
            chunks = []
            while True:
                chunk = os.read(fd, max(st.st_size + 1, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
            template = decode(b"".join(chunks), entry_key(self.name, level, digest))
            if touch and time.time() - st.st_mtime > TOUCH_AFTER:
                try:  # its last use, for prune; a read-only cache is still of use
                    os.utime(fd)
                except OSError:
                    pass
            return template
        finally:
            os.close(fd)

    def put(
        self, digest: bytes, level: int, template: tuple[bytes, int, int], said: list[Any]
    ) -> None:
        """Store a template and its compile's warnings: a temp file in the entry's directory,
        renamed into place. Where a directory (or anything but a file) holds the entry's name,
        the entry is not stored: that is no failure of the cache."""
        text = digest.hex()
        shard = self._shard(text[:2], create=True)
        assert shard is not None
        name = f"{text[2:]}.{level}"
        data = encode(entry_key(self.name, level, digest), template, said)
        try:
            write_atomic(name, data, shard)
        except IsADirectoryError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise

    def describe(self, info: dict[str, object]) -> None:
        """Say what this directory's name stands for (for ``cache info``), once."""
        fd = open_below(self.root, (LAYOUT, self.name), make=2)
        try:
            if not _is_file(IDENTITY, fd):
                write_atomic(IDENTITY, json.dumps(info, sort_keys=True).encode("utf-8"), fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        while self._shards:
            os.close(self._shards.popitem()[1])


class Session:
    """The cache as one compile worker uses it: lookups and writes in line (a writer thread
    beside the compiles measured slower: every entry cost a hand-over and the GIL). The first
    failure ends its use in this process, and is said once."""

    def __init__(self, root: str) -> None:
        info = identity()
        self.store = Store(root, identity_name(info))
        self.broken = False
        self.unsaid: str | None = None
        try:
            self.store.describe(info)
        except OSError:
            pass  # a cache that cannot take it fails at the first entry, and says so there

    def get(self, digest: bytes, level: int) -> tuple[Any, str | None]:
        """The verified entry of this source (template and warnings) or None, and what the
        lookup was: "hit", "miss", "damaged", or None when the cache is no longer used."""
        if self.broken:
            return None, None
        try:
            found = self.store.get(digest, level)
        except Damaged:
            return None, "damaged"
        except OSError as exc:
            if exc.errno == getattr(errno, "ESTALE", None):
                # NFS: another machine replaced or pruned it while it was read.
                return None, "miss"
            self.fail(exc)
            return None, None
        return found, "miss" if found is None else "hit"

    def put(self, digest: bytes, level: int, template: Any, said: list[Any]) -> None:
        """Keep a template, and the warnings its compile gave (a hit says them again)."""
        if not self.broken:
            try:
                self.store.put(digest, level, template, said)
            except OSError as exc:
                self.fail(exc)

    def fail(self, exc: OSError) -> None:
        if not self.broken:
            self.broken = True
            self.unsaid = failure_reason(exc)

    def failure(self) -> str | None:
        """Why the cache stopped being used, once (then None)."""
        said, self.unsaid = self.unsaid, None
        return said

    def close(self) -> None:
        self.store.close()


def failure_reason(exc: Exception) -> str:
    """Why the cache cannot be used, in a few words (the caller names the directory)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return "a symlink or a file where the cache keeps a directory (never followed)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"


def write_atomic(name: str, data: bytes, dir_fd: int) -> None:
    """``data`` into the file ``name`` of the open directory ``dir_fd``: a temp file there,
    renamed into place; the temp file goes if anything fails."""
    # Unique on every machine that shares the directory; no lock is ever taken.
    temp = f"{TEMP_PREFIX}{temp_owner()}.{os.urandom(4).hex()}"
    fd = os.open(temp, _CREATE, 0o666, dir_fd=dir_fd)
    try:
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except OSError:
            pass
        raise


class InTheWay(OSError):
    """A symlink (``symlink``), or something that is no directory, where a directory was to
    be opened: never followed. Its errno stays ELOOP or ENOTDIR."""

    symlink = False


def open_below(root: str, parts: tuple[str, ...], make: int = 0) -> int:
    """A descriptor of the directory ``root/parts...``, each part opened inside the last
    without following a symlink (InTheWay where one, or no directory, is); the last ``make``
    parts are made when missing. The compile worker's writes and the cache's files alike."""
    fd = os.open(root, _DIRECTORY)
    try:
        for index, part in enumerate(parts):
            child = _open_part(fd, part, index >= len(parts) - make)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_part(fd: int, name: str, may_make: bool) -> int:
    try:
        return os.open(name, _BELOW, dir_fd=fd)
    except FileNotFoundError:
        if not may_make:
            raise
    except OSError as exc:
        raise _in_the_way(exc, fd, name) from None
    try:
        os.mkdir(name, dir_fd=fd)  # never follows a symlink: one there is EEXIST
    except FileExistsError:
        pass  # made by another writer meanwhile, or something else is there: open says which
    try:
        return os.open(name, _BELOW, dir_fd=fd)
    except OSError as exc:
        raise _in_the_way(exc, fd, name) from None


def _in_the_way(exc: OSError, fd: int, name: str) -> OSError:
    """ELOOP or ENOTDIR opening ``name``: an InTheWay that says what is there."""
    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
        return exc
    try:
        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
    except OSError:
        return exc
    symlink = stat.S_ISLNK(mode)
    found = InTheWay(exc.errno, f"{name} is {'a symlink' if symlink else 'not a directory'}", name)
    found.symlink = symlink
    return found


def _is_file(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def write_all(fd: int, data: bytes) -> None:
    """Every byte, or an error: a short write (a full disk) is never taken for the whole."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def temp_owner() -> str:
    """Who writes a temp file: host and process, so that prune can tell a live writer's."""
    host = re.sub(r"[^A-Za-z0-9-]", "_", os.uname().nodename)[:64] or "host"
    return f"{host}.{os.getpid()}"


if __name__ == "__main__":
    # `python cache.py`: the identity of this interpreter, for a dry run of compile --cache.
    info = identity()
    print(json.dumps({"name": identity_name(info), "identity": info}))
