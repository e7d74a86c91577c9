"""Sections "cache" and "cache-tmpfs": ``pycache-tool compile --cache DIR``, side by side with
a cold compile, compileall and uv.

One stdlib copy WORK (the compile section's, ~1,800 sources; caches removed before every run,
untimed):

- warm cache, same path: ``pycache-tool compile --cache SAME WORK``, SAME filled from WORK
  once beforehand, against ``python -m compileall -q -j0 WORK`` cold;
- warm cache filled from another path: OTHER is a copy of WORK elsewhere, its cache OTHERS
  filled from OTHER only: ``pycache-tool compile --cache OTHERS WORK``;
- cold with the cache (every lookup misses, every entry is written: the cache is removed
  before each run) against cold without it;
- the floor: ``writefloor.py WORK`` writes a file per source the way importlib writes a pyc,
  with no compile at all: what any compile of WORK costs at least, on this disk.

TREE, the bench tree less the sources the target cannot compile (the compile-noop section's
NOOP, its sources without their caches): ``pycache-tool compile --cache`` warm against uv's
compile share for the same sources (measured as the compile section measures it: one wheel,
installed offline with and without ``--compile-bytecode``, the difference paired round by
round), and TREE's floor.

Creating a file is what bounds a warm compile: on the development machines' disks it costs
~0.7 ms, more than everything else a hit does. "cache-tmpfs" runs the same rows with every
tree, cache and venv in ``/dev/shm`` (removed at the end), where the tool's own cost shows.

Below the tables: what each cache takes against the pycs it holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable

from compile_bench import (
    NOOP_NAME,
    WHEEL,
    WORK_NAME,
    _clear_caches,
    _find_uv,
    _make_noop,
    _make_work,
    _target_version,
    uv_share,
)
from harness import Check, Context, Measure, Result, Section, section, set_aside

OTHER_NAME = "cache-other-path"
TREE_NAME = "cache-tree"
VENV_NAME = "cache-uv-venv"
TMPFS = "/dev/shm"
TMPFS_NEEDS = 6 * 2**30  # bytes free: TREE, its pycs and cache, uv's copy and its pycs
_COMPILE_OK = frozenset({0, 1})


def _copy_sources(source: str, dest: str, *, link: bool) -> int:
    """DEST: the ``.py`` files of SOURCE (hard links, or copies with their mtimes), once."""
    marker = os.path.join(dest, ".complete")
    if not os.path.exists(marker):
        if os.path.lexists(dest):
            shutil.rmtree(dest)

        def skip(directory: str, names: list[str]) -> list[str]:
            return [
                n
                for n in names
                if n == "__pycache__"
                or (not n.endswith(".py") and not os.path.isdir(os.path.join(directory, n)))
            ]

        shutil.copytree(source, dest, copy_function=os.link if link else shutil.copy2, ignore=skip)
        with open(marker, "w", encoding="ascii") as f:
            f.write(source + "\n")
    return sum(1 for _, _, files in os.walk(dest) for name in files if name.endswith(".py"))


def _fill(ctx: Context, cache: str, tree: str) -> None:
    """Fill CACHE by compiling TREE with it, then remove TREE's caches (untimed)."""
    from harness import BenchError

    shutil.rmtree(cache, ignore_errors=True)
    done = subprocess.run(
        [ctx.tool, "compile", "--force", "--cache", cache, tree],
        capture_output=True,
        text=True,
        env=dict(ctx.env),
        check=False,
    )
    if done.returncode not in _COMPILE_OK or "warning" in done.stderr:
        raise BenchError(f"filling {cache} from {tree} failed: {done.stderr[-500:]}")
    _clear_caches(tree)


def _bytes(path: str, suffix: str = "") -> tuple[int, int, int]:
    """(files, bytes, bytes on disk) below PATH, of the files whose name ends with SUFFIX."""
    files = size = disk = 0
    for directory, _, names in os.walk(path):
        for name in names:
            if name.endswith(suffix):
                st = os.lstat(os.path.join(directory, name))
                files += 1
                size += st.st_size
                disk += st.st_blocks * 512
    return files, size, disk


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _build(ctx: Context, base: str, where: str) -> Section:
    """The section's rows with WORK, OTHER, TREE, the caches and uv's venv under BASE."""
    bench_root = ctx.bench_root
    version = _target_version(ctx.python)
    work = os.path.join(base, WORK_NAME)
    if base == bench_root:
        sources = _make_work(os.path.join(ctx.copies, "copy-1"), work)
    else:
        sources = _copy_sources(os.path.join(bench_root, WORK_NAME), work, link=False)
    other = os.path.join(base, OTHER_NAME)
    _copy_sources(work, other, link=False)
    noop = os.path.join(bench_root, NOOP_NAME)
    _make_noop(ctx, noop)
    tree = os.path.join(base, TREE_NAME)
    tree_sources = _copy_sources(noop, tree, link=base == bench_root)
    caches = os.path.join(base, "caches")
    same, others, fill, whole = (
        os.path.join(caches, n) for n in ("same-path", "other-path", "fill", "tree")
    )
    _fill(ctx, same, work)
    _fill(ctx, others, other)
    _fill(ctx, whole, tree)

    def clear(root: str) -> Callable[[], None]:
        return lambda: _clear_caches(root)

    def clear_all() -> None:
        set_aside(fill)
        _clear_caches(work)

    def measure(
        key: str, label: str, *argv: str, prepare: Callable[[], None] | None = None
    ) -> Measure:
        return Measure(
            key, label, argv, _COMPILE_OK, env=ctx.env, cwd=ctx.bench_dir, prepare=prepare
        )

    compileall = (ctx.python, "-m", "compileall", "-q", "-j0")
    floor = (sys.executable, os.path.join(ctx.bench_dir, "writefloor.py"))
    tool = (ctx.tool, "compile")
    measures = [
        measure("compileall", "compileall -q -j0 WORK (cold)", *compileall, work, prepare=clear(work)),
        measure("cold", "pycache-tool compile WORK (cold)", *tool, work, prepare=clear(work)),
        measure("fill", "... --cache (cold, filling it)", *tool, "--cache", fill, work, prepare=clear_all),
        measure("same", "... --cache (warm, same path)", *tool, "--cache", same, work, prepare=clear(work)),
        measure("other", "... --cache (warm, filled elsewhere)", *tool, "--cache", others, work, prepare=clear(work)),
        measure("floor", "floor: write WORK's files, no compile", *floor, work, prepare=clear(work)),
        measure("tree", "pycache-tool compile --cache TREE (warm)", *tool, "--cache", whole, tree, prepare=clear(tree)),
        measure("tree-floor", "floor: write TREE's files, no compile", *floor, tree, prepare=clear(tree)),
    ]  # fmt: skip
    on = "" if base == bench_root else " (tmpfs)"
    checks = [
        Check(
            "compileall -j0 cold / warm, same path",
            "compileall",
            "same",
            10.0,
            at_most=False,
            row=f"compile cache: compileall -j0 cold / warm, same path, one stdlib copy{on}",
        ),
        Check(
            "compileall -j0 cold / warm, filled elsewhere",
            "compileall",
            "other",
            6.0,
            at_most=False,
            row=f"compile cache: compileall -j0 cold / warm, filled elsewhere{on}",
        ),
        Check(
            "cold with --cache / without",
            "fill",
            "cold",
            1.05,
            at_most=True,
            row=f"compile cache: cold with --cache / without (pycache-tool / pycache-tool){on}",
        ),
    ]
    derived = []
    notes = [
        f"{where}; WORK: one stdlib copy ({sources} .py), TREE: the bench tree less what"
        f" {version} cannot compile ({tree_sources} .py); for {ctx.python} (Python {version}),"
        f" {os.cpu_count()} CPUs",
    ]
    uv = _find_uv(ctx.python)
    if uv is None:
        notes.append("uv not found (make bench installs it from the bench extra): uv skipped")
    else:
        uv_rows, share = uv_share(
            ctx, uv, os.path.join(base, VENV_NAME), os.path.join(caches, WHEEL), tree, "TREE"
        )
        measures += uv_rows
        derived.append(share)
        checks.append(
            Check(
                "uv compile share / warm TREE",
                "uv",
                "tree",
                8.0,
                at_most=False,
                row=f"compile cache: uv's compile share / warm, the bench tree{on}",
            )
        )

    def conclude(result: Result) -> list[str]:
        lines = [
            "against the floor (writing the same files with no compile, one process):"
            f" warm WORK {result.median('same') / result.median('floor'):.2f}x,"
            f" warm TREE {result.median('tree') / result.median('tree-floor'):.2f}x",
            "cache size against the pycs it holds (bytes; on disk):",
        ]
        for label, cache, root in (("WORK", same, work), ("TREE", whole, tree)):
            _clear_caches(root)  # the floor's files too
            _, size, disk = _bytes(os.path.join(cache, "v1"))
            subprocess.run(
                [*tool, "--cache", cache, root],
                capture_output=True,
                env=dict(ctx.env),
                check=False,
            )
            pycs, pyc_size, pyc_disk = _bytes(root, ".pyc")
            lines.append(
                f"  {label}: cache {_mib(size)} ({_mib(disk)} on disk) for {pycs} pycs of"
                f" {_mib(pyc_size)} ({_mib(pyc_disk)}): {size / pyc_size:.2f}x the bytes,"
                f" {disk / pyc_disk:.2f}x on disk"
            )
            _clear_caches(root)
        if base != bench_root:
            shutil.rmtree(base, ignore_errors=True)
        return lines

    return Section(
        name="cache" if base == bench_root else "cache-tmpfs",
        title=f"compile --cache, warm and cold, against compileall and uv ({where})",
        measures=measures,
        checks=checks,
        notes=notes,
        derived=derived,
        conclude=conclude,
    )


@section("cache")
def cache_on_disk(ctx: Context) -> Section:
    return _build(ctx, ctx.bench_root, "on the bench disk")


@section("cache-tmpfs")
def cache_on_tmpfs(ctx: Context) -> Section:
    base = os.path.join(TMPFS, f"pycache-tool-bench-{os.getuid()}")
    try:
        free = shutil.disk_usage(TMPFS).free
    except OSError:
        free = 0
    if free < TMPFS_NEEDS and not os.path.isdir(base):
        return Section(
            name="cache-tmpfs",
            title="compile --cache on tmpfs: skipped",
            measures=[Measure("none", "(nothing timed)", (sys.executable, "-c", "pass"))],
            notes=[f"{TMPFS} is missing or has less than {_mib(TMPFS_NEEDS)} free"],
        )
    return _build(ctx, base, f"everything in {TMPFS}, a tmpfs")
