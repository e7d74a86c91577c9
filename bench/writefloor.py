"""The floor for writing a tree's pycs: the least work any compile does besides compiling.

A single-threaded walk that, for each ``X.py``, makes ``__pycache__`` when missing and writes
``__pycache__/X.floor.pyc`` the way importlib writes a pyc (a temp file created with O_EXCL,
the bytes, a rename), with the source's own bytes as the content (about a pyc's size). No
compile, no cache, no checks. Run as a fresh subprocess: ``python bench/writefloor.py TREE``.
"""

from __future__ import annotations

import os
import sys

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_floor(root: str) -> int:
    written = 0
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d != "__pycache__"]
        sources = [name for name in files if name.endswith(".py")]
        if not sources:
            continue
        pycache = os.path.join(directory, "__pycache__")
        try:
            os.mkdir(pycache)
        except FileExistsError:
            pass
        for name in sources:
            with open(os.path.join(directory, name), "rb") as f:
                data = f.read()
            target = os.path.join(pycache, name[:-3] + ".floor.pyc")
            temp = f"{target}.{os.getpid()}"
            fd = os.open(temp, _CREATE, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.replace(temp, target)
            written += 1
    return written


if __name__ == "__main__":
    print(write_floor(sys.argv[1]))
