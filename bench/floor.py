"""The floor for an audit: the least work that reads every cache header and stats its source.

A bare single-threaded ``os.scandir`` walk that, for each ``__pycache__/X.TAG[.opt-N].pyc``,
opens it, reads its first 16 bytes and stats ``../X.py``. No parsing, no classification, no
output but the counts (printed so the work cannot be skipped). Run as a fresh subprocess:
``python bench/floor.py TREE``.
"""

from __future__ import annotations

import os
import sys

_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def floor(root: str) -> tuple[int, int, int]:
    """(pycs read, header bytes read, sources found)."""
    pycs = header_bytes = sources = 0
    stack = [root]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as it:
            subdirs = [e for e in it if e.is_dir(follow_symlinks=False)]
        for entry in subdirs:
            if entry.name != "__pycache__":
                stack.append(entry.path)
                continue
            with os.scandir(entry.path) as cache_it:
                for cache in cache_it:
                    name = cache.name
                    if not name.endswith(".pyc"):
                        continue
                    fd = os.open(cache.path, _FLAGS)
                    try:
                        header_bytes += len(os.read(fd, 16))
                    finally:
                        os.close(fd)
                    pycs += 1
                    try:
                        os.stat(os.path.join(directory, _stem(name) + ".py"))
                    except OSError:
                        continue
                    sources += 1
    return pycs, header_bytes, sources


def _stem(name: str) -> str:
    """``X.TAG[.opt-N].pyc`` -> ``X`` (a stem may hold dots: ``__phello__.foo``)."""
    base = name[:-4]
    opt = base.rfind(".opt-")
    if opt != -1:
        base = base[:opt]
    return base.rpartition(".")[0] or base


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: floor.py TREE", file=sys.stderr)
        return 2
    pycs, header_bytes, sources = floor(os.path.abspath(argv[0]))
    print(f"{pycs} pycs, {header_bytes} header bytes, {sources} sources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
