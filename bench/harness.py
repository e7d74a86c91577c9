"""The timing harness every benchmark section shares.

A section is a list of commands (``Measure``) timed side by side on the same tree, plus the
ratios between them that have a target (``Check``). The runner times one warm-up run of each
command (its output is kept for the section's sanity check), then ``repeat`` rounds with the
commands interleaved, so drift on a noisy machine hits them all alike. Every run's peak
resident memory is recorded too (``ru_maxrss``: the largest of the command and the children
it waited for; see ``peak.py``). Reports are plain ASCII text, ready to paste into a note.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple


class BenchError(Exception):
    """A benchmarked command failed or the tree could not be built."""


_GRAVEYARDS: set[str] = set()


def set_aside(path: str) -> None:
    """Take PATH out of the way of the timed run that follows: renamed into a graveyard beside
    it (the same file system), removed after the section; then sync.

    Not removed at once: ext4 without a journal (the development machines' disk) skips every
    inode freed in the last 30 seconds when it allocates one (``recently_deleted()``), so
    removing a tree's caches just before a timed compile made each file that compile created
    cost ~0.4 ms instead of 0.02–0.04 ms, for every tool alike. A user's build rarely follows
    the removal of thousands of files.
    """
    if not os.path.lexists(path):
        return
    graveyard = os.path.join(os.path.dirname(os.path.abspath(path)), ".bench-graveyard")
    _GRAVEYARDS.add(graveyard)
    os.makedirs(graveyard, exist_ok=True)
    os.rename(path, os.path.join(tempfile.mkdtemp(dir=graveyard), os.path.basename(path)))
    os.sync()


@atexit.register
def empty_graveyards() -> None:
    """Remove what ``set_aside`` kept: after each section (its warm-up runs absorb the cost in
    the next one), and at exit."""
    while _GRAVEYARDS:
        shutil.rmtree(_GRAVEYARDS.pop(), ignore_errors=True)
    os.sync()


@dataclass(frozen=True)
class Measure:
    """One command to time, as a subprocess: its start-up is part of the figure."""

    key: str  # short id that checks refer to
    label: str  # the table's row label
    argv: tuple[str, ...]
    ok_codes: frozenset[int] = frozenset({0})
    env: Mapping[str, str] | None = None
    cwd: str | None = None
    # Run before every run of the command (warm-up included) and never timed: e.g. restore
    # the tree that the command destroys.
    prepare: Callable[[], None] | None = None


@dataclass(frozen=True)
class Derived:
    """A row computed per round as ``minuend - subtrahend``: pairs out a shared cost (an
    installer's unpacking, to leave its compile share). Checks can refer to its key."""

    key: str
    label: str
    minuend: str
    subtrahend: str


@dataclass(frozen=True)
class Check:
    """A target on ``numerator / denominator``: at most or at least ``target``. ``metric``
    "time" compares median times, "rss" the largest peak resident memory of any run."""

    label: str
    numerator: str
    denominator: str
    target: float
    at_most: bool
    metric: str = "time"
    row: str = ""  # a row of the table of targets that the final summary repeats

    def passes(self, ratio: float) -> bool:
        return ratio <= self.target if self.at_most else ratio >= self.target

    @property
    def goal(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.target:g}"


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    measures: Sequence[Measure]
    checks: Sequence[Check] = ()
    notes: Sequence[str] = ()  # printed under the title
    derived: Sequence[Derived] = ()  # rows computed from the measures' times, per round
    per_item: tuple[int, str] | None = None  # (count, unit): adds a "us/unit" column
    item_counts: Mapping[str, int] = field(default_factory=dict)  # per measure key, if it differs
    # Given the warm-up runs' stdout by measure key: lines to print, e.g. what each saw.
    inspect: Callable[[Mapping[str, bytes]], list[str]] | None = None
    memory: bool = False  # add a "peak RSS" column
    # Given the timed result: lines to print under the tables, e.g. throughput by tree size.
    conclude: Callable[[Result], list[str]] | None = None
    # Rounds per requested round: quick commands need many rounds to show through the noise.
    repeat_factor: int = 1


class Context:
    """What sections are built from. The trees are built (or loaded from ``.bench/``) on first
    use, so that a run of some sections builds only the trees they need."""

    def __init__(
        self,
        *,
        bench_root: str,
        python: str,
        tool: str,
        bench_dir: str,
        env: Mapping[str, str],
        build_tree: Callable[[], str],
        build_copies: Callable[[], str],
    ) -> None:
        self.bench_root = bench_root  # where trees and work copies are cached
        self.python = python  # the tool's interpreter, its default target
        self.tool = tool  # the pycache-tool console script
        self.bench_dir = bench_dir  # the script directory, for helper scripts
        self.env = env  # a clean environment for every command
        self._build_tree, self._build_copies = build_tree, build_copies

    @functools.cached_property
    def tree(self) -> str:
        """The large mixed tree: several interpreters' standard libraries (absolute)."""
        return self._build_tree()

    @functools.cached_property
    def copies(self) -> str:
        """Copies of the target's own standard library, ``copy-1`` ... (absolute)."""
        return self._build_copies()


SectionFactory = Callable[[Context], Section]
SECTIONS: dict[str, SectionFactory] = {}


def section(name: str) -> Callable[[SectionFactory], SectionFactory]:
    """Register a section factory under ``name`` (run in registration order)."""

    def register(factory: SectionFactory) -> SectionFactory:
        if name in SECTIONS:
            raise ValueError(f"section {name!r} registered twice")
        SECTIONS[name] = factory
        return factory

    return register


class Run(NamedTuple):
    seconds: float  # wall time, start-up included
    peak_rss: int  # bytes
    stdout: bytes  # when captured


def run_once(measure: Measure, *, capture: bool = False) -> Run:
    """Run the command once, through ``peak.py``, which times it and reports its peak RSS.
    Raises on a bad exit code."""
    if measure.prepare is not None:
        measure.prepare()
    read_end, write_end = os.pipe()
    try:
        with tempfile.TemporaryFile() as err:
            stdout = subprocess.PIPE if capture else subprocess.DEVNULL
            done = subprocess.run(
                [sys.executable, "-I", "-S", _PEAK, str(write_end), *measure.argv],
                stdout=stdout,
                stderr=err,
                env=None if measure.env is None else dict(measure.env),
                cwd=measure.cwd,
                pass_fds=(write_end,),
                check=False,
            )
            os.close(write_end)
            write_end = -1
            report = os.read(read_end, 4096).split()  # written once the command has exited
            if done.returncode not in measure.ok_codes or len(report) != 2:
                err.seek(0)
                tail = err.read().decode(errors="replace").strip().splitlines()[-5:]
                raise BenchError(
                    f"{measure.label}: exit {done.returncode}: {' '.join(measure.argv)}\n  "
                    + "\n  ".join(tail)
                )
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)
    return Run(float(report[0]), int(report[1]), done.stdout or b"")


_PEAK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peak.py")


@dataclass
class Result:
    section: Section
    rounds: int
    times: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, list[int]] = field(default_factory=dict)  # peak bytes of each timed run
    inspected: list[str] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(self.times[key])

    def peak(self, key: str) -> int:
        return max(self.rss[key])

    def _series(self, key: str, metric: str) -> Sequence[float]:
        return self.times[key] if metric == "time" else self.rss[key]

    def ratio(self, check: Check) -> float:
        if check.metric == "time":
            return self.median(check.numerator) / self.median(check.denominator)
        return self.peak(check.numerator) / self.peak(check.denominator)

    def paired(self, check: Check) -> list[float]:
        """The ratio within each round: the spread shows how much to trust the medians."""
        pairs = zip(
            self._series(check.numerator, check.metric),
            self._series(check.denominator, check.metric),
        )
        return [a / b for a, b in pairs]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.section.checks if not c.passes(self.ratio(c))]


def run_section(
    sec: Section, repeat: int, progress: Callable[[str], None] = lambda _: None
) -> Result:
    repeat *= sec.repeat_factor
    result = Result(
        sec, repeat, {m.key: [] for m in sec.measures}, {m.key: [] for m in sec.measures}
    )
    outputs: dict[str, bytes] = {}
    for measure in sec.measures:
        progress(f"warm-up: {measure.label}")
        run = run_once(measure, capture=True)
        outputs[measure.key] = run.stdout
        progress(f"  {run.seconds:.3f} s, peak RSS {mib(run.peak_rss)}")
    if sec.inspect is not None:
        result.inspected = sec.inspect(outputs)
    outputs.clear()
    measures = list(sec.measures)
    for n in range(repeat):
        # Rotate the order each round: no command always runs right after the same other one.
        shift = n % len(measures)
        for measure in measures[shift:] + measures[:shift]:
            run = run_once(measure)
            result.times[measure.key].append(run.seconds)
            result.rss[measure.key].append(run.peak_rss)
        progress(f"round {n + 1}/{repeat} done")
    empty_graveyards()
    for derived in sec.derived:
        pairs = zip(result.times[derived.minuend], result.times[derived.subtrahend])
        result.times[derived.key] = [a - b for a, b in pairs]
    return result


def seconds(value: float) -> str:
    return f"{value:.3f} s"


def mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def report(result: Result) -> str:
    sec = result.section
    out = [f"== {sec.name}: {sec.title}", *(f"   {line}" for line in sec.notes)]
    out += [f"   {line}" for line in result.inspected]
    out.append(f"   {result.rounds} timed rounds after one warm-up run of each; medians")
    out.append("")
    rows = [(m.key, m.label) for m in sec.measures] + [(d.key, d.label) for d in sec.derived]
    width = max(len(label) for _, label in rows)
    unit = f"us/{sec.per_item[1]}" if sec.per_item else ""
    rss = "peak RSS" if sec.memory else ""
    out.append(
        f"  {'command':<{width}}  {'median':>9}  {'min':>9}  {'max':>9}  {unit:>9}"
        f"  {rss:>10}".rstrip()
    )
    for key, label in rows:
        times = result.times[key]
        med = result.median(key)
        items = sec.item_counts.get(key, sec.per_item[0]) if sec.per_item else 0
        per = f"{med * 1e6 / items:9.1f}" if items else ""
        peak = mib(result.peak(key)) if sec.memory and result.rss.get(key) else ""
        out.append(
            f"  {label:<{width}}  {seconds(med):>9}  {seconds(min(times)):>9}"
            f"  {seconds(max(times)):>9}  {per:>9}  {peak:>10}".rstrip()
        )
    if sec.checks:
        out.append("")
        cwidth = max(len(c.label) for c in sec.checks)
        out.append(
            f"  {'ratio':<{cwidth}}  {'medians':>7}  {'paired range':>13}  {'target':>7}  result"
        )
        for check in sec.checks:
            ratio = result.ratio(check)
            paired = result.paired(check)
            spread = f"{min(paired):.2f}-{max(paired):.2f}"
            verdict = "PASS" if check.passes(ratio) else "FAIL"
            out.append(
                f"  {check.label:<{cwidth}}  {ratio:7.2f}  {spread:>13}  {check.goal:>7}  {verdict}"
            )
    if sec.conclude is not None:
        out += ["", *sec.conclude(result)]
    return "\n".join(out)


def rows_report(results: Sequence[Result]) -> str:
    """Every check that is a row of the table of targets, from all the sections run, together."""
    rows = [(r, c) for r in results for c in r.section.checks if c.row]
    if not rows:
        return ""
    width = max(len(c.row) for _, c in rows)
    out = [
        "== rows: every target in one table (peer time / pycache-tool time unless said otherwise)",
        "",
        f"  {'row':<{width}}  {'medians':>7}  {'paired range':>13}  {'target':>7}  result",
    ]
    for result, check in rows:
        paired = result.paired(check)
        ratio = result.ratio(check)
        verdict = "PASS" if check.passes(ratio) else "FAIL"
        out.append(
            f"  {check.row:<{width}}  {ratio:7.2f}  {min(paired):>6.2f}-{max(paired):<6.2f}"
            f"  {check.goal:>7}  {verdict}"
        )
    return "\n".join(out)
