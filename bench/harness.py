"""The timing harness every benchmark section shares.

A section is a list of commands (``Measure``) timed side by side on the same tree, plus the
ratios between them that have a target (``Check``). The runner times one warm-up run of each
command (its output is kept for the section's sanity check), then ``repeat`` rounds with the
commands interleaved, so drift on a noisy machine hits them all alike. Reports are plain
ASCII text, ready to paste into a note.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


class BenchError(Exception):
    """A benchmarked command failed or the tree could not be built."""


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
    """A target on ``numerator / denominator`` (medians): at most or at least ``target``."""

    label: str
    numerator: str
    denominator: str
    target: float
    at_most: bool

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
    # Given the warm-up runs' stdout by measure key: lines to print, e.g. what each saw.
    inspect: Callable[[Mapping[str, bytes]], list[str]] | None = None


@dataclass(frozen=True)
class Context:
    """What sections are built from."""

    tree: str  # the benchmark tree (absolute)
    python: str  # the tool's interpreter, its default target
    tool: str  # the pycache-tool console script
    bench_dir: str  # the script directory, for helper scripts
    env: Mapping[str, str]  # a clean environment for every command


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


def run_once(measure: Measure, *, capture: bool = False) -> tuple[float, bytes]:
    """Run the command once: (wall seconds, stdout if captured). Raises on a bad exit code."""
    stdout = subprocess.PIPE if capture else subprocess.DEVNULL
    if measure.prepare is not None:
        measure.prepare()
    start = time.perf_counter()
    done = subprocess.run(
        measure.argv,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=None if measure.env is None else dict(measure.env),
        cwd=measure.cwd,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in measure.ok_codes:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise BenchError(
            f"{measure.label}: exit {done.returncode}: {' '.join(measure.argv)}\n  "
            + "\n  ".join(tail)
        )
    return elapsed, done.stdout or b""


def timeit(measure: Measure) -> float:
    """Wall seconds of one run of ``measure``, output discarded."""
    return run_once(measure)[0]


@dataclass
class Result:
    section: Section
    rounds: int
    times: dict[str, list[float]] = field(default_factory=dict)
    inspected: list[str] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(self.times[key])

    def ratio(self, check: Check) -> float:
        return self.median(check.numerator) / self.median(check.denominator)

    def paired(self, check: Check) -> list[float]:
        """The ratio within each round: the spread shows how much to trust the medians."""
        pairs = zip(self.times[check.numerator], self.times[check.denominator])
        return [a / b for a, b in pairs]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.section.checks if not c.passes(self.ratio(c))]


def run_section(
    sec: Section, repeat: int, progress: Callable[[str], None] = lambda _: None
) -> Result:
    result = Result(sec, repeat, {m.key: [] for m in sec.measures})
    outputs: dict[str, bytes] = {}
    for measure in sec.measures:
        progress(f"warm-up: {measure.label}")
        elapsed, outputs[measure.key] = run_once(measure, capture=True)
        progress(f"  {elapsed:.3f} s")
    if sec.inspect is not None:
        result.inspected = sec.inspect(outputs)
    outputs.clear()
    measures = list(sec.measures)
    for n in range(repeat):
        # Rotate the order each round: no command always runs right after the same other one.
        shift = n % len(measures)
        for measure in measures[shift:] + measures[:shift]:
            result.times[measure.key].append(timeit(measure))
        progress(f"round {n + 1}/{repeat} done")
    for derived in sec.derived:
        pairs = zip(result.times[derived.minuend], result.times[derived.subtrahend])
        result.times[derived.key] = [a - b for a, b in pairs]
    return result


def seconds(value: float) -> str:
    return f"{value:.3f} s"


def report(result: Result) -> str:
    sec = result.section
    out = [f"== {sec.name}: {sec.title}", *(f"   {line}" for line in sec.notes)]
    out += [f"   {line}" for line in result.inspected]
    out.append(f"   {result.rounds} timed rounds after one warm-up run of each; medians")
    out.append("")
    rows = [(m.key, m.label) for m in sec.measures] + [(d.key, d.label) for d in sec.derived]
    width = max(len(label) for _, label in rows)
    unit = f"us/{sec.per_item[1]}" if sec.per_item else ""
    out.append(f"  {'command':<{width}}  {'median':>9}  {'min':>9}  {'max':>9}  {unit:>9}".rstrip())
    for key, label in rows:
        times = result.times[key]
        med = result.median(key)
        per = f"{med * 1e6 / sec.per_item[0]:9.1f}" if sec.per_item and sec.per_item[0] else ""
        out.append(
            f"  {label:<{width}}  {seconds(med):>9}  {seconds(min(times)):>9}"
            f"  {seconds(max(times)):>9}  {per}".rstrip()
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
    return "\n".join(out)
