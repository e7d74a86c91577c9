"""Section "scale": audit on generated trees of 10k, 100k and 1M files.

Audit streams its records, so its memory must not grow with the tree, and its time must grow
linearly. Each tree is generated once (cached under ``.bench/scale-<size>``): projects of
nested packages and data directories, a few levels deep, 10-50 files a directory, about 10 %
of all files ``__pycache__`` entries:

- a package directory holds 8-30 sources (fixed mtime), a few other files (``py.typed``,
  ``README.md``, ...) and a ``__pycache__``: a pyc for the tool's interpreter for 90 % of its
  sources (0.2 % of them stale: the header's source size is off by one), one for another
  CPython for 15 %, now and then the pyc of a removed module (an orphan); one package in 500
  is a ghost (its sources are gone, its ``__pycache__`` is not);
- a data directory holds 10-50 files of assorted kinds, and no Python;
- which of the two comes next keeps the share of pycs at 10 %.

Every pyc has a valid header for its tag: the fresh ones are fresh. Each size runs
``pycache-tool audit TREE`` as a subprocess with stdout to /dev/null (``--format json``, text,
and text ``--verbose``, which lists every record), timed and with the child's peak RSS. The
targets: time linear in the files (1M / 100k at most 1.25x the ratio of files), peak RSS
bounded (1M / 100k at most 1.25).

``--scale-sizes 10k,100k`` (``make bench BENCH_ARGS=...``) leaves out the 1M tree, whose
first generation takes ~25 s here (a few minutes on a slow disk) and 4 GB of disk. ``python bench/scale.py build
SIZE`` builds one tree alone.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from harness import BenchError, Check, Context, Measure, Result, Section, mib, section

from pycache_tool.bytecode.interpreters import final_magics

FORMAT = 1  # bump when the generator changes: cached trees are rebuilt
SEED = 6
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
_selected = list(SIZES)

PYC_SHARE = 0.10
TARGET_PYC = 0.90  # sources with a pyc for the tool's interpreter
STALE = 0.002  # of those pycs
FOREIGN_PYC = 0.15  # sources with a pyc for another CPython
ORPHAN_DIR = 0.03  # package directories with the pyc of a removed module
GHOST_DIR = 0.002  # package directories with nothing left but __pycache__

_SOURCE_NS = 1_700_000_000 * 10**9  # every source's mtime: pyc headers are known up front
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_TEXT = (b"def f(x):\n    return x + 1\n\n" * 200)[:4096]
_DATA_DIRS = ("docs", "assets", "data", "static", "fixtures", "templates", "locale")
_DATA_EXTS = (".json", ".txt", ".png", ".csv", ".html", ".md", ".svg", ".yaml")
_PACKAGE_EXTRAS = ("py.typed", "README.md", "schema.json", "VERSION", "conftest.cfg", "data.csv")
_PROJECT_FILES = {"README.md": 900, "LICENSE": 1100, "pyproject.toml": 600}


def select(spec: str) -> None:
    """Which sizes to run: ``10k,100k,1m`` (the default), any subset."""
    chosen = [s.strip().lower() for s in spec.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SIZES]
    if unknown or not chosen:
        raise BenchError(f"--scale-sizes: choose from {', '.join(SIZES)}, not {spec!r}")
    _selected[:] = [s for s in SIZES if s in chosen]


@dataclass
class Counts:
    files: int = 0
    dirs: int = 0
    sources: int = 0
    pycs: int = 0
    foreign: int = 0  # pycs for the other CPython
    stale: int = 0
    orphans: int = 0
    ghosts: int = 0

    @property
    def attention(self) -> int:
        """Records audit must list under "needs attention"."""
        return self.stale + self.orphans + self.ghosts


@dataclass(frozen=True)
class Tag:
    tag: str
    magic: int

    def header(self, source_size: int) -> bytes:
        """A timestamp pyc header (PEP 552) for a source of ``source_size`` bytes."""
        mtime = (_SOURCE_NS // 10**9) & 0xFFFFFFFF
        return (
            self.magic.to_bytes(2, "little")
            + b"\r\n"
            + (0).to_bytes(4, "little")
            + mtime.to_bytes(4, "little")
            + (source_size & 0xFFFFFFFF).to_bytes(4, "little")
        )


def tags() -> tuple[Tag, Tag]:
    """The running interpreter's tag (the tool's default target) and another CPython's."""
    here = Tag(
        sys.implementation.cache_tag, int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little")
    )
    other = "3.11" if sys.version_info[:2] == (3, 12) else "3.12"
    other_tag = Tag(f"cpython-{other.replace('.', '')}", max(final_magics("cpython", other)))
    return here, other_tag


class _Builder:
    """Writes the tree with few system calls: files are created relative to an open directory."""

    def __init__(self, root: str, files: int, target: Tag, foreign: Tag) -> None:
        self.root, self.files, self.target, self.foreign = root, files, target, foreign
        self.rng = random.Random(SEED)
        self.counts = Counts()

    def build(self) -> Counts:
        os.mkdir(self.root)
        self.counts.dirs += 1
        project = 0
        while self.counts.files < self.files:
            group = os.path.join(self.root, f"group_{project // 50:03d}")
            if project % 50 == 0:
                self._mkdir(group)
            self._project(os.path.join(group, f"project_{project:05d}"))
            project += 1
        return self.counts

    def _mkdir(self, path: str, dir_fd: int | None = None) -> int:
        os.mkdir(path, dir_fd=dir_fd)
        self.counts.dirs += 1
        return os.open(path, _DIRECTORY, dir_fd=dir_fd)

    def _write(self, dir_fd: int, name: str, data: bytes, *, source: bool = False) -> None:
        fd = os.open(name, _CREATE, 0o644, dir_fd=dir_fd)
        try:
            os.write(fd, data)
            if source:
                os.utime(fd, ns=(_SOURCE_NS, _SOURCE_NS))
        finally:
            os.close(fd)
        self.counts.files += 1

    def _project(self, path: str) -> None:
        fd = self._mkdir(path)
        try:
            for name, length in _PROJECT_FILES.items():
                self._write(fd, name, _TEXT[:length])
            self._write(fd, "setup.py", _TEXT[:300], source=True)  # a source nobody imports
            self.counts.sources += 1
        finally:
            os.close(fd)
        parents = [(path, 0)]
        for n in range(self.rng.randint(4, 24)):
            if self.counts.files >= self.files:
                break
            parent, depth = self.rng.choice([p for p in parents if p[1] < 3])
            if self.counts.pycs < PYC_SHARE * self.counts.files:
                child = os.path.join(parent, f"pkg_{n:02d}")
                if self._package(child):
                    continue  # a ghost stays a leaf: a child with files would make it none
            else:
                child = os.path.join(parent, f"{self.rng.choice(_DATA_DIRS)}_{n:02d}")
                self._data(child)
            parents.append((child, depth + 1))

    def _data(self, path: str) -> None:
        rng = self.rng
        fd = self._mkdir(path)
        try:
            for i in range(rng.randint(10, 50)):
                name = f"item_{i:03d}{rng.choice(_DATA_EXTS)}"
                self._write(fd, name, _TEXT[: rng.randint(0, 1500)])
        finally:
            os.close(fd)

    def _package(self, path: str) -> bool:
        """A package directory; True if it was made a ghost."""
        rng, counts = self.rng, self.counts
        ghost = rng.random() < GHOST_DIR
        stems = ["__init__"] + [f"mod_{i:02d}" for i in range(1, rng.randint(8, 30))]
        sizes = {
            stem: rng.randint(0, 200) if stem == "__init__" else rng.randint(200, 4000)
            for stem in stems
        }
        fd = self._mkdir(path)
        try:
            if not ghost:
                for stem in stems:
                    self._write(fd, stem + ".py", _TEXT[: sizes[stem]], source=True)
                counts.sources += len(stems)
                for name in rng.sample(_PACKAGE_EXTRAS, rng.randint(1, 4)):
                    self._write(fd, name, _TEXT[: rng.randint(0, 800)])
            cache = self._mkdir("__pycache__", fd)
            try:
                for stem in stems:
                    if ghost or rng.random() < TARGET_PYC:
                        stale = not ghost and rng.random() < STALE
                        self._pyc(cache, stem, self.target, sizes[stem] + stale)
                        counts.stale += stale
                        counts.orphans += ghost
                    if not ghost and rng.random() < FOREIGN_PYC:
                        self._pyc(cache, stem, self.foreign, sizes[stem])
                        counts.foreign += 1
                if not ghost and rng.random() < ORPHAN_DIR:
                    self._pyc(cache, "removed", self.target, 1000)
                    counts.orphans += 1
            finally:
                os.close(cache)
        finally:
            os.close(fd)
        counts.ghosts += ghost
        return ghost

    def _pyc(self, cache_fd: int, stem: str, tag: Tag, source_size: int) -> None:
        body = _TEXT[: 100 + source_size // 2]  # never read: only the header is
        self._write(cache_fd, f"{stem}.{tag.tag}.pyc", tag.header(source_size) + body)
        self.counts.pycs += 1


@dataclass(frozen=True)
class ScaleTree:
    label: str
    path: str
    counts: Counts


def load_or_build(bench_root: str, label: str) -> ScaleTree:
    """The cached tree of ``label`` files if it was generated the same way, else a new one."""
    path = os.path.join(bench_root, f"scale-{label}")
    manifest = path + ".json"
    target, foreign = tags()
    wanted = {
        "format": FORMAT,
        "seed": SEED,
        "files": SIZES[label],
        "target": asdict(target),
        "foreign": asdict(foreign),
    }
    try:
        with open(manifest, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        saved = None
    if (
        isinstance(saved, dict)
        and {k: saved.get(k) for k in wanted} == wanted
        and os.path.isdir(path)
    ):
        return ScaleTree(label, path, Counts(**saved["counts"]))
    if os.path.lexists(manifest):
        os.remove(manifest)  # until the new tree is complete
    partial = path + ".partial"
    for stale in (path, partial):
        if os.path.lexists(stale):
            print(f"bench: removing {stale}", file=sys.stderr, flush=True)
            shutil.rmtree(stale)
    print(f"bench: generating {path} ({label} files)", file=sys.stderr, flush=True)
    started = time.perf_counter()
    counts = _Builder(partial, SIZES[label], target, foreign).build()
    os.rename(partial, path)
    os.sync()  # no write-back of the new tree during the timed runs
    print(
        f"bench:   {counts.files} files in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump({**wanted, "counts": asdict(counts)}, f, indent=1)
    return ScaleTree(label, path, counts)


_MODES = {  # key -> (label, extra arguments)
    "json": ("audit --format json", ("--format", "json")),
    "text": ("audit (text)", ()),
    "verbose": ("audit --verbose (text)", ("--verbose",)),
}


@section("scale")
def scale(ctx: Context) -> Section:
    bench_root = ctx.bench_root  # its own trees: the benchmark tree is not needed
    trees = [load_or_build(bench_root, label) for label in _selected]
    measures = [
        Measure(
            f"{mode}-{tree.label}",
            f"{label}, {tree.label} files",
            (ctx.tool, "audit", tree.path, *extra),
            env=ctx.env,
            cwd=ctx.bench_dir,
        )
        for tree in trees
        for mode, (label, extra) in _MODES.items()
    ]
    checks: list[Check] = []
    for small, big in zip(trees, trees[1:]):
        linear = round(1.25 * big.counts.files / small.counts.files, 1)
        pair = f"{big.label} / {small.label}"
        checks += [
            Check(
                f"time {mode} {pair}", f"{mode}-{big.label}", f"{mode}-{small.label}", linear, True
            )
            for mode in _MODES
        ]
        checks += [
            Check(
                f"peak RSS {mode} {pair}",
                f"{mode}-{big.label}",
                f"{mode}-{small.label}",
                1.25,
                True,
                metric="rss",
            )
            for mode in _MODES
        ]
    notes = [
        f"{t.label}: {t.path}: {t.counts.files} files ({t.counts.sources} sources,"
        f" {t.counts.pycs} pycs, {t.counts.foreign} of them foreign), {t.counts.dirs} directories;"
        f" {t.counts.attention} need attention"
        for t in trees
    ]
    notes.append("time targets: at most 1.25x the ratio of files (linear); peak RSS: at most 1.25")

    def inspect(outputs: Mapping[str, bytes]) -> list[str]:
        return [_check_counts(t, outputs[f"json-{t.label}"]) for t in trees]

    def conclude(result: Result) -> list[str]:
        return _throughput(trees, result)

    return Section(
        name="scale",
        title="audit at 10k, 100k and 1M files: linear time, bounded memory",
        measures=measures,
        checks=checks,
        notes=notes,
        inspect=inspect,
        memory=True,
        conclude=conclude,
    )


def _check_counts(tree: ScaleTree, output: bytes) -> str:
    """What the warm-up json audit saw, against what the generator wrote."""
    try:
        summary = json.loads(output)["summary"]
        seen, attention = summary["files"], summary["needs_attention"]
    except (KeyError, ValueError, TypeError) as exc:
        return f"{tree.label}: audit json output unreadable: {exc!r}"
    want = tree.counts
    verdict = "as generated" if (seen, attention) == (want.pycs, want.attention) else "MISMATCH"
    return (
        f"{tree.label}: audit saw {seen} cache files, {attention} needing attention;"
        f" generated {want.pycs} and {want.attention}: {verdict}"
    )


def _throughput(trees: Sequence[ScaleTree], result: Result) -> list[str]:
    """Files and pycs per second at each size; then between sizes, where start-up cancels out:
    if time is linear in the tree, that rate is the same from one pair of sizes to the next."""
    out = [
        "throughput (medians; start-up included, so the smallest tree reads slower):",
        f"  {'tree':<10}{'mode':<9}{'files/s':>10}{'pycs/s':>10}{'peak RSS':>11}",
    ]
    for tree in trees:
        for mode in _MODES:
            key = f"{mode}-{tree.label}"
            median = result.median(key)
            out.append(
                f"  {tree.label:<10}{mode:<9}{tree.counts.files / median:>10,.0f}"
                f"{tree.counts.pycs / median:>10,.0f}{mib(result.peak(key)):>11}"
            )
    if len(trees) > 1:
        out.append("  between sizes (difference of medians: start-up cancels; linear if equal):")
    for small, big in zip(trees, trees[1:]):
        for mode in _MODES:
            extra = result.median(f"{mode}-{big.label}") - result.median(f"{mode}-{small.label}")
            files = big.counts.files - small.counts.files
            pycs = big.counts.pycs - small.counts.pycs
            rates = f"{files / extra:>10,.0f}{pycs / extra:>10,.0f}" if extra > 0 else "  (noise)"
            out.append(f"  {small.label + '->' + big.label:<10}{mode:<9}{rates}")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "build" or argv[1] not in SIZES:
        print(f"usage: scale.py build {{{','.join(SIZES)}}}", file=sys.stderr)
        return 2
    bench_root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".bench")
    os.makedirs(bench_root, exist_ok=True)
    tree = load_or_build(bench_root, argv[1])
    print(f"{tree.path}: {asdict(tree.counts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
