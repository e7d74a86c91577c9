"""``make bench``: time pycache-tool against its floor and its peers, side by side.

Builds (once; cached in .bench/) four copies of the target's standard library and a large
tree of several interpreters' standard libraries, each compiled by its own interpreter, then
runs the sections and prints plain-text tables of medians and target ratios on stdout
(progress goes to stderr), and at the end every row of the table of targets together.

    python bench/run.py [--repeat N | --quick] [--rebuild] [--section NAME ...]
                        [--scale-sizes 10k,100k,1m]

Run by the interpreter of the venv the tool is installed in (``make bench`` makes one with a
regular install, as users get it); that interpreter is the default target and the peers'.
Sections live in their own modules and register with ``harness.section``; import the module
below to add one, and name it in ROWS or MORE.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)

import cache_bench  # noqa: E402, F401 - registers its section
import cleaning  # noqa: E402, F401 - registers its section
import compile_bench  # noqa: E402, F401 - registers its sections
import corpus  # noqa: E402 - the bench modules sit beside this script
import deep  # noqa: E402, F401 - registers its section
import fresh  # noqa: E402, F401 - registers its section
import scale  # noqa: E402 - registers its section
import startup  # noqa: E402, F401 - registers its section
from harness import (  # noqa: E402
    SECTIONS,
    BenchError,
    Context,
    Result,
    report,
    rows_report,
    run_section,
)

DEFAULT_VERSIONS = ("3.9", "3.11", "3.12", "3.13")
QUICK_REPEAT = 2
ROWS = ("startup", "stdlib", "clean", "compile")  # the table of targets; --quick runs these
# the large mixed tree, the compile cache (on the disk and on tmpfs), the generated trees
MORE = ("fresh", "compile-noop", "cache", "cache-tmpfs", "deep", "scale")
assert sorted(ROWS + MORE) == sorted(SECTIONS)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_REPEAT} rounds (overrides --repeat), and only the sections of the table"
        f" of targets ({', '.join(ROWS)}) unless --section says otherwise",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the tree first")
    parser.add_argument(
        "--versions",
        default=",".join(DEFAULT_VERSIONS),
        help="X.Y interpreters under pyenv whose stdlib makes the tree; absent ones are skipped"
        " (default %(default)s)",
    )
    parser.add_argument(
        "--copies",
        type=int,
        default=3,
        help="copies of each stdlib in the large tree (default %(default)s)",
    )
    parser.add_argument(
        "--stdlib-copies",
        type=int,
        default=4,
        help="copies of the target's stdlib in the small tree (default %(default)s)",
    )
    parser.add_argument(
        "--section",
        action="append",
        choices=ROWS + MORE,
        help=f"run only this section (repeatable; default all, in the order {', '.join(ROWS + MORE)})",
    )
    parser.add_argument(
        "--bench-root",
        default=os.path.join(REPO, ".bench"),
        help="where the tree is cached (default %(default)s)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a ratio misses its target"
    )
    parser.add_argument(
        "--scale-sizes",
        default=",".join(scale.SIZES),
        help="generated trees the scale section audits (default %(default)s; the 1m tree"
        " takes 4 GB and ~25 s to generate, once)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = QUICK_REPEAT
    if args.repeat < 1 or args.copies < 1 or args.stdlib_copies < 1:
        parser.error("--repeat, --copies and --stdlib-copies must be at least 1")
    return args


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _load() -> str:
    """The 1/5/15-minute load averages: a busy machine widens the paired ranges."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _install(python: str) -> str:
    """How the tool is installed: an editable install adds its finder to every start-up."""
    done = subprocess.run(
        [python, "-c", "import pycache_tool; print(pycache_tool.__file__)"],
        capture_output=True,
        text=True,
        env=corpus.clean_env(),
        cwd=BENCH_DIR,  # not the checkout: -c looks in the working directory first
        check=False,
    )
    where = done.stdout.strip()
    if where.startswith(os.path.join(REPO, "pycache_tool")):
        return "an editable install (its import finder adds ~20 ms to every start-up)"
    return f"a regular install in {os.path.dirname(os.path.dirname(python))}"


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    python = sys.executable
    tool = os.path.join(os.path.dirname(python), "pycache-tool")
    if not os.access(tool, os.X_OK):
        progress(f"no console script at {tool}: run `make bench` (installs the package)")
        return 2
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    os.makedirs(args.bench_root, exist_ok=True)
    started = time.perf_counter()
    target = corpus.target_label(python)

    def build_tree() -> str:
        interpreters = corpus.find_interpreters(versions, pyenv_root)
        tree = corpus.load_or_build(
            args.bench_root, interpreters, args.copies, target, rebuild=args.rebuild
        )
        progress(f"large tree ready after {time.perf_counter() - started:.0f} s")
        print("\n" + "\n".join(tree.describe()), flush=True)
        return tree.path

    def build_copies() -> str:
        if args.rebuild:
            corpus.remove_copies(args.bench_root)
        copies = corpus.load_or_build_copies(args.bench_root, python, args.stdlib_copies, target)
        print("\n" + "\n".join(copies.describe()), flush=True)
        return copies.path

    ctx = Context(
        bench_root=args.bench_root,
        python=python,
        tool=tool,
        bench_dir=BENCH_DIR,
        env=corpus.clean_env(),
        build_tree=build_tree,
        build_copies=build_copies,
    )
    header = [
        f"pycache-tool benchmark, {datetime.datetime.now():%Y-%m-%d %H:%M}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"
        f" {platform.release()}; tool runs on Python {platform.python_version()};"
        f" load average {_load()}",
        f"tool: {_install(python)}",
    ]
    print("\n".join(header), flush=True)
    results: list[Result] = []
    names = args.section or (list(ROWS) if args.quick else list(ROWS + MORE))
    try:
        scale.select(args.scale_sizes)
        for name in names:
            progress(f"section {name}")
            result = run_section(SECTIONS[name](ctx), args.repeat, progress)
            results.append(result)
            print("\n" + report(result), flush=True)
    except BenchError as exc:
        progress(f"error: {exc}")
        return 2
    rows = rows_report(results)
    if rows:
        print(f"\n{rows}\nload average at the end: {_load()}", flush=True)
    progress(f"done in {time.perf_counter() - started:.0f} s")
    failed = sum(len(r.failed) for r in results)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
