"""``make bench``: time pycache-tool against its floor and its peers on a large real tree.

Builds (once; cached in .bench/) copies of several interpreters' standard libraries, each
compiled by its own interpreter, then runs every registered section and prints plain-text
tables of medians and target ratios on stdout (progress goes to stderr).

    .venv/bin/python bench/run.py [--repeat N | --quick] [--rebuild] [--section NAME ...]
                                  [--scale-sizes 10k,100k,1m]

Sections live in their own modules and register with ``harness.section``; import the module
below to add one.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from collections.abc import Sequence

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)

import cleaning  # noqa: E402, F401 - registers its section
import compile_bench  # noqa: E402, F401 - registers its sections
import corpus  # noqa: E402 - the bench modules sit beside this script
import deep  # noqa: E402, F401 - registers its section
import fresh  # noqa: E402, F401 - registers its section
import scale  # noqa: E402 - registers its section
from harness import SECTIONS, BenchError, Context, report, run_section  # noqa: E402

DEFAULT_VERSIONS = ("3.9", "3.11", "3.12", "3.13")
QUICK_REPEAT = 2


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_REPEAT} rounds (overrides --repeat)"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the tree first")
    parser.add_argument(
        "--versions",
        default=",".join(DEFAULT_VERSIONS),
        help="X.Y interpreters under pyenv whose stdlib makes the tree; absent ones are skipped"
        " (default %(default)s)",
    )
    parser.add_argument(
        "--copies", type=int, default=3, help="copies of each stdlib (default %(default)s)"
    )
    parser.add_argument(
        "--section",
        action="append",
        choices=sorted(SECTIONS),
        help="run only this section (repeatable; default all)",
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
    if args.repeat < 1 or args.copies < 1:
        parser.error("--repeat and --copies must be at least 1")
    return args


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _load() -> str:
    """The 1/5/15-minute load averages: a busy machine widens the paired ranges."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


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
    try:
        scale.select(args.scale_sizes)
        interpreters = corpus.find_interpreters(versions, pyenv_root)
        tree = corpus.load_or_build(
            args.bench_root,
            interpreters,
            args.copies,
            corpus.target_label(python),
            rebuild=args.rebuild,
        )
        progress(f"tree ready after {time.perf_counter() - started:.0f} s")
        ctx = Context(
            tree=tree.path, python=python, tool=tool, bench_dir=BENCH_DIR, env=corpus.clean_env()
        )
        header = [
            f"pycache-tool benchmark, {datetime.datetime.now():%Y-%m-%d %H:%M}",
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"
            f" {platform.release()}; tool runs on Python {platform.python_version()};"
            f" load average {_load()}",
            *tree.describe(),
        ]
        print("\n".join(header), flush=True)
        failed = 0
        for name in args.section or list(SECTIONS):
            progress(f"section {name}")
            result = run_section(SECTIONS[name](ctx), args.repeat, progress)
            failed += len(result.failed)
            print("\n" + report(result), flush=True)
    except BenchError as exc:
        progress(f"error: {exc}")
        return 2
    progress(f"done in {time.perf_counter() - started:.0f} s")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
