"""sdists as tar archives: every bytecode member is a leak, read in one streaming pass."""

from __future__ import annotations

from typing import IO

from pycache_tool.archives.entries import (
    SDIST,
    Archive,
    Entry,
    is_bytecode,
    leak,
    read_errors,
    why,
    with_sources,
)
from pycache_tool.bytecode.pyc import HEADER_READ


def read_tar(path: str, f: IO[bytes]) -> Archive:
    import tarfile

    entries: list[Entry] = []
    names: set[str] = set()
    try:
        # Streaming mode: one pass over the compressed data; a member's bytes can be read only
        # while it is the current one, which is all a header needs.
        with tarfile.open(fileobj=f, mode="r|*") as tar:
            for member in tar:
                name = member.name
                names.add(name)
                if not is_bytecode(name):
                    continue
                if member.issym() or member.islnk():
                    # Never followed: a link member has no bytes of its own to judge.
                    kind = "symbolic" if member.issym() else "hard"
                    entries.append(
                        leak(SDIST, name, None, 0, f"a {kind} link to {member.linkname!r}")
                    )
                    continue
                if not member.isfile():
                    continue
                reader = tar.extractfile(member)
                assert reader is not None  # a regular member always has a reader
                head = reader.read(HEADER_READ)
                entries.append(leak(SDIST, name, head, member.size, ""))
    except read_errors() as exc:
        problem = (
            why(exc) if isinstance(exc, OSError) else f"damaged or not a tar archive: {why(exc)}"
        )
        return Archive(path, SDIST, with_sources(entries, names), problem)
    return Archive(path, SDIST, with_sources(entries, names))
