"""Section "clean": remove every cache from four stdlib copies, against ``find`` and ``pyclean``.

- ``pycache-tool clean --quiet WORK`` (no category: every cache file, emptied ``__pycache__``
  directories too), the real console script, start-up included;
- ``find WORK -name __pycache__ -prune -exec rm -rf {} +``: the floor, no questions asked;
- ``pyclean WORK`` (installed by ``make bench`` from the ``bench`` extra), told to ignore only
  ``.git`` so that it enters the stdlib's ``venv`` package like the others do.

Every command destroys what it measures, so WORK (a full copy of the benchmark tree, made
once, with no hard links to it) has its ``__pycache__`` directories restored from the pristine
tree before every run, then ``sync``: the restore is never part of a timed figure. Its own cost
is shown in the table for reference.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping

from harness import BenchError, Check, Context, Measure, Section, section

WORK_NAME = "clean-work"


def pycache_dirs(root: str) -> list[str]:
    """Every ``__pycache__`` directory below ``root``, relative, never through a symlink."""
    found: list[str] = []
    for directory, subdirs, _ in os.walk(root):
        if "__pycache__" in subdirs:
            subdirs.remove("__pycache__")
            path = os.path.join(directory, "__pycache__")
            if not os.path.islink(path):
                found.append(os.path.relpath(path, root))
    found.sort()
    return found


def restore(pristine: str, work: str, rels: list[str]) -> None:
    """Put back every ``__pycache__`` of ``pristine`` into ``work``, as real copies."""
    for rel in rels:
        dest = os.path.join(work, rel)
        if os.path.lexists(dest):
            shutil.rmtree(dest)
        shutil.copytree(os.path.join(pristine, rel), dest, symlinks=True)
    os.sync()  # no write-back of the restore during the timed run


def wipe(work: str, rels: list[str]) -> None:
    for rel in rels:
        shutil.rmtree(os.path.join(work, rel), ignore_errors=True)
    os.sync()


def make_work(pristine: str) -> str:
    """A full copy of the pristine tree beside it, rebuilt whenever the tree was rebuilt."""
    work = os.path.join(os.path.dirname(pristine), WORK_NAME)
    stamp = work + ".stamp"
    manifest = pristine + ".json"
    try:
        with open(manifest, encoding="utf-8") as f:
            wanted = f.read()
    except OSError as exc:
        raise BenchError(f"no manifest for the tree: {exc}") from exc
    try:
        with open(stamp, encoding="utf-8") as f:
            have = f.read()
    except OSError:
        have = None
    if have != wanted or not os.path.isdir(work):
        print(f"bench: copying the tree to {work}", file=sys.stderr, flush=True)
        if os.path.lexists(stamp):
            os.remove(stamp)
        if os.path.lexists(work):
            shutil.rmtree(work)
        done = subprocess.run(["cp", "-a", pristine, work], capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"cp -a {pristine} {work}: {done.stderr.strip()}")
        with open(stamp, "w", encoding="utf-8") as f:
            f.write(wanted)
    return work


class _Restorer:
    """The ``prepare`` of every measure: checks what the last command left, then restores."""

    def __init__(self, pristine: str, work: str, rels: list[str]) -> None:
        self.pristine, self.work, self.rels = pristine, work, rels
        self.last: str | None = None
        self.leftovers: dict[str, int] = {}  # measure key -> __pycache__ dirs it left (first run)

    def check(self) -> None:
        if self.last is not None and self.last not in self.leftovers:
            self.leftovers[self.last] = sum(
                1 for rel in self.rels if os.path.lexists(os.path.join(self.work, rel))
            )

    def before(self, key: str) -> None:
        self.check()
        restore(self.pristine, self.work, self.rels)
        self.last = key

    def before_restore(self) -> None:
        self.check()
        wipe(self.work, self.rels)
        self.last = None


@section("clean")
def clean(ctx: Context) -> Section:
    pristine = ctx.copies
    work = make_work(pristine)
    rels = pycache_dirs(pristine)
    pycs = sum(len(os.listdir(os.path.join(pristine, rel))) for rel in rels)
    restorer = _Restorer(pristine, work, rels)
    pyclean = os.path.join(os.path.dirname(ctx.python), "pyclean")

    def measure(key: str, label: str, *argv: str) -> Measure:
        return Measure(
            key,
            label,
            argv,
            env=ctx.env,
            cwd=ctx.bench_dir,
            prepare=lambda: restorer.before(key),
        )

    measures = [
        measure("clean", "pycache-tool clean --quiet", ctx.tool, "clean", "--quiet", work),
        measure(
            "find",
            "find -name __pycache__ -prune -exec rm -rf",
            *("find", work, "-name", "__pycache__", "-prune", "-exec", "rm", "-rf", "{}", "+"),
        ),
    ]
    checks = [
        Check(
            "find / clean",
            "find",
            "clean",
            0.67,
            at_most=False,
            row="remove every cache: find -prune -exec rm -rf / clean, four stdlib copies",
        )
    ]
    notes = [
        f"WORK: a copy of the tree; its {len(rels)} __pycache__ directories ({pycs} files)"
        " are restored before every run, untimed"
    ]
    if os.access(pyclean, os.X_OK):
        measures.append(measure("pyclean", "pyclean", pyclean, work, "--ignore", ".git"))
        checks.append(Check("pyclean / clean", "pyclean", "clean", 3.0, at_most=False))
    else:
        notes.append(f"pyclean is not installed at {pyclean}: run `make bench`")
    measures.append(
        Measure(
            "restore",
            "(reference) the restore alone",
            (ctx.python, os.path.abspath(__file__), "restore", pristine, work),
            env=ctx.env,
            cwd=ctx.bench_dir,
            prepare=restorer.before_restore,
        )
    )

    def inspect(outputs: Mapping[str, bytes]) -> list[str]:
        restorer.check()
        lines = [
            f"{m.label}: left {restorer.leftovers[m.key]} __pycache__ directories"
            for m in measures
            if m.key in restorer.leftovers
        ]
        summary = outputs["clean"].decode(errors="replace").strip().splitlines()
        lines.append("pycache-tool clean said: " + (summary[-1] if summary else "(nothing)"))
        return lines

    return Section(
        name="clean",
        title="remove every cache: pycache-tool clean vs find vs pyclean",
        measures=measures,
        checks=checks,
        notes=notes,
        per_item=(pycs, "pyc"),
        inspect=inspect,
    )


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "restore":
        print("usage: cleaning.py restore PRISTINE WORK", file=sys.stderr)
        return 2
    pristine, work = argv[1], argv[2]
    restore(pristine, work, pycache_dirs(pristine))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
