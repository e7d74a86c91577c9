"""audit streams: its memory does not grow with the tree, in any output mode.

Each mode audits a small tree and one ten times larger, in-process under tracemalloc, and
the larger may not need more than a small fixed budget over the smaller: keeping anything
per record (the verbose listing, what needs attention in JSON) or per cache (coverage of a
pycache_prefix tree) costs far more than that. ``make bench`` (section ``scale``) measures
the same on a million files, as peak RSS.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import struct
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import NamedTuple

import pytest

from .conftest import cli

TAG = sys.implementation.cache_tag
MTIME = 1_600_000_000
PER_PACKAGE = 20
SMALL, LARGE = 100, 1000  # modules; the larger tree has 900 more records than the smaller
# Well under what keeping each extra record costs (a Record and its strings, ~500 bytes; a
# rendered line, ~150), well over what varies between runs.
BUDGET = 48 * 1024


def make_tree(
    root: Path,
    modules: int,
    *,
    missing_every: int = 0,
    prefix: Path | None = None,
    stale: bool = False,
) -> None:
    """Packages of 20 modules, each with a fresh cache for this interpreter (a stale one if
    ``stale``), except every ``missing_every``-th; the caches in ``prefix`` (as
    PYTHONPYCACHEPREFIX lays them out) if given.
    """
    for n in range(modules // PER_PACKAGE):
        package = root / f"pkg{n:03d}"
        package.mkdir(parents=True)
        caches = prefix / str(package).lstrip(os.sep) if prefix else package / "__pycache__"
        caches.mkdir(parents=True)
        for i in range(PER_PACKAGE):
            source = package / f"mod{i:02d}.py"
            data = b"X = %d\n" % i
            source.write_bytes(data)
            os.utime(source, (MTIME, MTIME))
            if missing_every and i % missing_every == 0:
                continue
            stamp = MTIME + 1 if stale else MTIME
            header = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, stamp, len(data))
            (caches / f"mod{i:02d}.{TAG}.pyc").write_bytes(header + b"\xe3" + bytes(40))


class _Discard(io.TextIOBase):
    """stdout that keeps nothing: pytest's capture would hold the whole report."""

    def write(self, text: str) -> int:
        return len(text)


def traced_peak(*args: str, code: int = 0, command: str = "audit") -> int:
    """Peak bytes allocated while ``pycache-tool COMMAND ARGS`` runs in-process, output
    discarded; it must exit with ``code``."""
    from pycache_tool.cli import main

    with contextlib.redirect_stdout(_Discard()):
        tracemalloc.start()
        try:
            assert main([command, *args]) == code
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


class Mode(NamedTuple):
    options: list[str]
    missing_every: int = 0
    prefix: bool = False
    code: int = 0  # the exit code
    stale: bool = False  # every cache


MODES = {
    "json": Mode(["--format", "json"]),
    "text": Mode([]),
    "verbose": Mode(["--verbose"]),
    # About a third of the sources lack a cache: as many "missing" records, which need
    # attention; JSON only counts them.
    "require-fresh json": Mode(["--require-fresh", "--format", "json"], missing_every=3, code=1),
    "prefix require-fresh json": Mode(["--require-fresh", "--format", "json"], prefix=True),
    # Every cache stale: as many lines under "needs attention", which wait in temporary files.
    "text stale": Mode([], stale=True),
    "quiet stale check": Mode(["--quiet", "--check"], stale=True, code=1),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_audit_memory_does_not_grow_with_the_tree(tmp_path: Path, mode: str) -> None:
    shape = MODES[mode]
    peaks = {}
    for modules in (SMALL, LARGE):
        root = tmp_path / f"tree{modules}"
        args = [*shape.options, str(root)]
        prefix = None
        if shape.prefix:
            prefix = tmp_path / f"prefix{modules}"
            args = ["--pycache-prefix", str(prefix), *args]
        make_tree(
            root, modules, missing_every=shape.missing_every, prefix=prefix, stale=shape.stale
        )
        traced_peak(*args, code=shape.code)  # warm: lazy imports, typer's command, caches
        peaks[modules] = min(traced_peak(*args, code=shape.code) for _ in range(2))
    growth = peaks[LARGE] - peaks[SMALL]
    assert growth < BUDGET, f"{mode}: {peaks[SMALL]} -> {peaks[LARGE]} bytes (+{growth})"


# One directory: the walker holds its names while it is walked (to report in name order), and
# nothing else per entry. The same modules cost as much in one directory as spread over many,
# but for that: a budget per entry of the large directory well over a name and its place in a
# list (~80 bytes here), well under a directory entry object, a stat or a record (~550 here).
ONE_DIRECTORY = 6_000  # modules: as many sources beside each other, as many caches
PER_ENTRY = 150


@pytest.fixture(scope="module")
def one_and_spread(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same fresh modules, all in one package, and in packages of 100."""
    root = tmp_path_factory.mktemp("layouts")
    header = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, MTIME, 6) + b"\xe3" + bytes(16)
    for layout, per_package in (("one", ONE_DIRECTORY), ("spread", 100)):
        for i in range(ONE_DIRECTORY):
            package = root / layout / f"pkg{i // per_package:03d}"
            if i % per_package == 0:
                (package / "__pycache__").mkdir(parents=True)
            source = package / f"mod{i:06d}.py"
            source.write_bytes(b"X = 1\n")
            os.utime(source, (MTIME, MTIME))
            (package / "__pycache__" / f"mod{i:06d}.{TAG}.pyc").write_bytes(header)
    return root / "one", root / "spread"


@pytest.mark.parametrize(
    "command",
    [["audit", "-q"], ["audit", "--require-fresh", "--format", "json"], ["compile", "-n"]],
    ids=" ".join,
)
def test_one_large_directory_costs_no_more_than_its_names(
    one_and_spread: tuple[Path, Path], command: list[str]
) -> None:
    """``compile -n`` keeps what it plans for the whole tree, so it is compared, like audit,
    with the same modules spread over many directories."""
    peaks = []
    for tree in one_and_spread:
        traced_peak(*command[1:], str(tree), command=command[0])  # warm
        peaks.append(traced_peak(*command[1:], str(tree), command=command[0]))
    extra = peaks[0] - peaks[1]
    budget = 2 * ONE_DIRECTORY * PER_ENTRY
    assert extra < budget, f"{command}: {peaks[1]} spread, {peaks[0]} in one directory"


def test_verbose_lists_every_record_between_totals_and_attention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "t", PER_PACKAGE)
    stale = tmp_path / "t" / "pkg000" / "modé.py"  # not ASCII: through the spool and back
    stale.write_bytes(b"Y = 1\n")
    header = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, MTIME, 6)
    (stale.parent / "__pycache__" / f"modé.{TAG}.pyc").write_bytes(header + bytes(40))
    monkeypatch.chdir(tmp_path / "t")
    code, plain, err = cli(capsys, "audit")
    assert code == 0, err
    code, verbose, err = cli(capsys, "audit", "--verbose")
    assert code == 0, err
    head, rest = verbose.split("\nevery record:\n", 1)
    listed, tail = rest.split("\n\n", 1)
    assert head + "\n" + tail == plain  # the same report, with the listing inserted
    paths = [line.split()[1] for line in listed.splitlines()]
    expected = [f"pkg000/__pycache__/mod{i:02d}.{TAG}.pyc" for i in range(PER_PACKAGE)]
    assert paths == sorted([*expected, f"pkg000/__pycache__/modé.{TAG}.pyc"])
    assert listed.splitlines()[-1].split()[0] == "stale"
    # Without a usable temporary directory the listing is kept in memory instead.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    assert cli(capsys, "audit", "--verbose") == (0, verbose, "")


def _hash_pyc(magic: int) -> bytes:
    """A checked-hash pyc whose stored hash matches no source here."""
    return struct.pack("<HHI", magic, 0x0A0D, 3) + bytes(8) + b"\xe3" + bytes(16)


def test_a_huge_source_is_never_read_whole(tmp_path: Path) -> None:
    """SipHash needs a whole source: audit reads one up to a bound (the running
    interpreter's own hash, then the pure-Python one of the other family) and no further, so
    a 1 GiB (sparse) source costs nothing; one at the bound is still judged."""
    from pycache_tool import scan
    from pycache_tool.bytecode import interpreters
    from pycache_tool.scanning.classify import HASHED_AT_MOST

    own = interpreters.current()
    other = interpreters.from_tag("cpython-39" if sys.version_info >= (3, 11) else "cpython-312")
    package = tmp_path / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    sizes = {
        "huge": (own, 2**30),
        "edge": (own, HASHED_AT_MOST[True]),
        "other_huge": (other, HASHED_AT_MOST[False] + 1),
        "other_edge": (other, HASHED_AT_MOST[False]),
    }
    for stem, (target, length) in sizes.items():
        with open(package / f"{stem}.py", "wb") as f:
            f.truncate(length)  # sparse: no disk, no time
        (package / "__pycache__" / f"{stem}.{target.tag}.pyc").write_bytes(_hash_pyc(target.magic))
    records = {os.path.basename(r.path).split(".")[0]: r for r in scan([str(package)])}
    for stem in ("huge", "other_huge"):
        assert (records[stem].status.value, records[stem].loads) == ("unknown", None)
        assert "larger than the" in records[stem].reason, records[stem]
        assert "hash is not checked" in records[stem].reason
    for stem in ("edge", "other_edge"):
        assert records[stem].status.value == "stale", records[stem]
        assert records[stem].reason.startswith("source hash differs"), records[stem]
    (package / "edge.py").unlink()
    (package / "other_edge.py").unlink()
    traced_peak("--format", "json", str(package))  # warm
    assert traced_peak("--format", "json", str(package)) < 8 * 2**20
