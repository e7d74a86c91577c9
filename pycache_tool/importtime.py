"""importtime: what the cache is worth, measured the way the Python docs suggest.

``MODULE`` is imported in fresh processes of the target interpreter under ``-X importtime``,
with ``-X pycache_prefix`` pointing into a temporary directory: cold runs each get a new empty
prefix (every module compiles from source), warm runs share one that an untimed priming run
filled. Cold and warm runs alternate so that drift (CPU frequency, other load) hits both
alike. The user's caches are never read or written: with a prefix, the interpreter ignores
every ``__pycache__`` directory, and the temporary directory is removed at the end.
"""

from __future__ import annotations

import contextlib
import keyword
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pycache_tool.bytecode.interpreters import Interpreter, version_key
from pycache_tool.errors import ExitCode, PycacheToolError, UsageError

DEFAULT_REPEAT = 5
DEFAULT_TOP = 10
DEFAULT_TIMEOUT = 60.0

Progress = Callable[[str, int, int], None]  # (label, runs done, runs planned)

_PREFIX = "import time:"
_ORIGINS_MARKER = "pycache-tool importtime: module origins"

# Appended to the priming run only (never to a timed one): says for every module loaded
# whether it belongs to the standard library, which the empty prefix makes cold too.
_ORIGINS = r"""
try:
    import os as _o, sys as _s, sysconfig as _c
    _p = _c.get_paths()
    _std = [_o.path.realpath(_p[k]) + _o.sep for k in ("stdlib", "platstdlib") if _p.get(k)]
    _site = [_o.path.realpath(_p[k]) + _o.sep for k in ("purelib", "platlib") if _p.get(k)]
    print("\n" + MARKER)
    for _n, _m in list(_s.modules.items()):
        try:
            _spec = getattr(_m, "__spec__", None)
            _f = getattr(_spec, "origin", None)
            if _f in ("built-in", "frozen"):
                print(_n, "stdlib")
                continue
            _f = _f or next(iter(getattr(_spec, "submodule_search_locations", None) or []), None)
            if _f:
                _f = _o.path.realpath(_f)
                _in = lambda dirs: any(_f.startswith(d) for d in dirs)
                print(_n, "stdlib" if _in(_std) and not _in(_site) else "other")
        except Exception:
            pass
except Exception:
    pass
""".replace("MARKER", repr(_ORIGINS_MARKER))


class MeasureError(PycacheToolError):
    """MODULE could not be measured: it failed to import, or a run outlived the timeout."""

    exit_code = ExitCode.INCOMPLETE


@dataclass(frozen=True)
class Line:
    """One ``import time:`` line: a module, how deep it was imported, and its times."""

    depth: int
    name: str
    self_us: int
    cumulative_us: int


@dataclass(frozen=True)
class Run:
    """What one process reported, reduced to what the report needs."""

    module_us: int  # cumulative time of MODULE's line: MODULE and everything it imported
    all_us: int  # every import in the process, interpreter start-up included
    subtree: dict[str, tuple[int, int]]  # name -> (self, cumulative) under MODULE's line


@dataclass(frozen=True)
class ModuleGain:
    """One module under MODULE: median times cold and warm."""

    name: str
    stdlib: bool | None  # None: not known (the module left sys.modules, or has no file)
    cold_self_us: int
    warm_self_us: int
    cold_cumulative_us: int
    warm_cumulative_us: int

    @property
    def saved_self_us(self) -> int:
        return self.cold_self_us - self.warm_self_us

    @property
    def saved_cumulative_us(self) -> int:
        return self.cold_cumulative_us - self.warm_cumulative_us


@dataclass(frozen=True)
class Measurement:
    module: str
    target: Interpreter
    repeat: int
    cold: tuple[Run, ...]  # in the order they ran
    warm: tuple[Run, ...]
    modules: tuple[ModuleGain, ...]  # every module under MODULE, most self time saved first
    stdlib: frozenset[str]  # the standard-library modules among them

    @property
    def cold_us(self) -> int:
        return _median(r.module_us for r in self.cold)

    @property
    def warm_us(self) -> int:
        return _median(r.module_us for r in self.warm)

    @property
    def cold_all_us(self) -> int:
        return _median(r.all_us for r in self.cold)

    @property
    def warm_all_us(self) -> int:
        return _median(r.all_us for r in self.warm)

    @property
    def cold_stdlib_us(self) -> int:
        """Self time of the standard-library modules under MODULE (median of the cold runs)."""
        return _median(self._stdlib_self(r) for r in self.cold)

    @property
    def warm_stdlib_us(self) -> int:
        return _median(self._stdlib_self(r) for r in self.warm)

    @property
    def speedup(self) -> float | None:
        """Cold over warm for MODULE; None when the warm time is zero."""
        return self.cold_us / self.warm_us if self.warm_us > 0 else None

    @property
    def own_cold_us(self) -> int:
        """MODULE cold without its standard-library part: what the user's own caches decide."""
        return max(self.cold_us - self.cold_stdlib_us, 0)

    @property
    def own_warm_us(self) -> int:
        return max(self.warm_us - self.warm_stdlib_us, 0)

    @property
    def own_speedup(self) -> float | None:
        """Cold over warm outside the standard library, which an installed Python has compiled."""
        return self.own_cold_us / self.own_warm_us if self.own_warm_us > 0 else None

    def _stdlib_self(self, run: Run) -> int:
        # Each line's times are rounded to microseconds on their own: their sum can pass MODULE's.
        found = sum(times[0] for name, times in run.subtree.items() if name in self.stdlib)
        return min(found, run.module_us)


def check_module_name(module: str) -> None:
    """MODULE goes into ``-c "import MODULE"``: only a dotted name of identifiers may."""
    parts = module.split(".")
    if not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise UsageError(f"{module!r} is not a module name (expected e.g. json or mypkg.sub)")


def check_target(target: Interpreter) -> None:
    """CPython 3.8+: -X importtime came in 3.7, pycache_prefix (the empty cold cache) in 3.8."""
    where = target.executable
    if where is None:
        raise UsageError(f"{target.name}: importtime needs an interpreter to run (--python EXE)")
    if target.implementation == "pypy":
        raise UsageError(f"{where} is PyPy {target.version}, which has no -X importtime")
    if version_key(target.version) < (3, 8):
        raise UsageError(
            f"{where} is Python {target.version}: importtime needs 3.8 or newer"
            " (pycache_prefix keeps the measurement away from your caches)"
        )


def measure(
    module: str,
    target: Interpreter,
    *,
    repeat: int = DEFAULT_REPEAT,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> Measurement:
    """Import ``module`` in ``repeat`` cold and ``repeat`` warm processes of ``target``, in the
    current working directory and environment (so the user's sys.path applies)."""
    check_module_name(module)
    check_target(target)
    if repeat < 1:
        raise UsageError("--repeat must be at least 1")
    if timeout < 0:
        raise UsageError("--timeout must not be negative")
    where = target.executable
    assert where is not None  # check_target refuses targets known only by their tag
    planned = 1 + 2 * repeat
    done = 0

    def run(prefix: str, code: str) -> tuple[str, str]:
        nonlocal done
        out, err = _child(where, module, prefix, code, timeout)
        done += 1
        if progress is not None:
            progress(module, done, planned)
        return out, err

    base = tempfile.mkdtemp(prefix="pycache-tool-importtime-")
    try:
        warm_prefix = os.path.join(base, "warm")
        os.mkdir(warm_prefix)
        out, err = run(warm_prefix, f"import {module}\n{_ORIGINS}")
        parse_run(err, module, where)  # the first run says whether there is anything to measure
        stdlib_flags = _origins(out)
        cold: list[Run] = []
        warm: list[Run] = []
        for i in range(repeat):
            # ABBA order: cold, warm, warm, cold, ... so neither kind always runs first.
            for kind in ("cold", "warm") if i % 2 == 0 else ("warm", "cold"):
                if kind == "warm":
                    warm.append(parse_run(run(warm_prefix, f"import {module}")[1], module, where))
                    continue
                prefix = tempfile.mkdtemp(prefix="cold-", dir=base)
                try:
                    cold.append(parse_run(run(prefix, f"import {module}")[1], module, where))
                finally:
                    shutil.rmtree(prefix, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    modules = _gains(cold, warm, stdlib_flags)
    stdlib = frozenset(m.name for m in modules if m.stdlib)
    return Measurement(module, target, repeat, tuple(cold), tuple(warm), modules, stdlib)


def _child(executable: str, module: str, prefix: str, code: str, timeout: float) -> tuple[str, str]:
    """One fresh process: bytecode writing on (no -B, no PYTHONDONTWRITEBYTECODE), caches only
    in ``prefix``. Its own session, so a timeout or Ctrl-C can kill whatever it started."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    }
    try:
        proc = subprocess.Popen(
            [executable, "-X", "importtime", "-X", f"pycache_prefix={prefix}", "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise UsageError(f"cannot run {executable}: {exc}") from None
    try:
        out, err = proc.communicate(timeout=timeout or None)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise MeasureError(
            f"import {module} took longer than {timeout:g} s (--timeout); killed"
        ) from None
    except BaseException:
        _kill(proc)
        raise
    if proc.returncode != 0:
        raise MeasureError(f"cannot import {module} with {executable}: {_last_line(err)}")
    return out, err


def _kill(proc: subprocess.Popen[str]) -> None:
    killpg = getattr(os, "killpg", None)
    with contextlib.suppress(OSError):
        if killpg is not None:
            killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=5)


def _last_line(stderr: str) -> str:
    """The child's last words, without the -X importtime report around them."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith(_PREFIX)]
    return lines[-1] if lines else "it exited with an error and printed nothing"


def parse_lines(stderr: str) -> list[Line] | None:
    """The ``-X importtime`` lines of ``stderr`` in order; None when it printed no report.

    ``import time: self [us] | cumulative | imported package``, the name indented by two spaces
    per level; a module's line comes after the lines of what it imported."""
    lines: list[Line] = []
    header = False
    for raw in stderr.splitlines():
        if not raw.startswith(_PREFIX):
            continue
        fields = raw[len(_PREFIX) :].split("|", 2)
        if len(fields) != 3:
            continue
        try:
            self_us, cumulative_us = int(fields[0]), int(fields[1])
        except ValueError:  # the header, or "cached" lines of -X importtime=2 (3.14)
            header = header or "self [us]" in fields[0]
            continue
        name = fields[2][1:]  # one space follows the bar
        stripped = name.lstrip(" ")
        depth = (len(name) - len(stripped)) // 2
        lines.append(Line(depth, stripped.rstrip(), self_us, cumulative_us))
    return lines if header or lines else None


def parse_run(stderr: str, module: str, where: str) -> Run:
    """One process's report: MODULE's outermost line, the lines it encloses, and the total of
    all of them (``where`` names the interpreter in errors)."""
    lines = parse_lines(stderr)
    if lines is None:
        raise UsageError(f"{where} printed no -X importtime report")
    # ``import pkg.mod`` whose pkg/__init__ imports mod reports mod twice: its own load, and
    # outside it the whole statement, pkg included. The outermost line is what MODULE costs.
    mine = [i for i, line in enumerate(lines) if line.name == module]
    if not mine:
        raise UsageError(
            f"{module} is loaded before -X importtime starts reporting in {where};"
            " there is nothing to measure"
        )
    at = min(mine, key=lambda i: lines[i].depth)
    subtree = lines[_start(lines, at) : at + 1]
    starts = [_start(subtree, i) for i in range(len(subtree))]
    seen: dict[str, list[int]] = {}
    for i, line in enumerate(subtree):
        seen.setdefault(line.name, []).append(i)
    times: dict[str, tuple[int, int]] = {}
    for name, indices in seen.items():
        # Self times never overlap, so they add up; a cumulative time counts only when no
        # later line of the same name encloses it (a reload, two loads in turn, counts twice).
        outer = [i for i in indices if not any(starts[j] <= i < j for j in indices)]
        times[name] = (
            sum(subtree[i].self_us for i in indices),
            sum(subtree[i].cumulative_us for i in outer),
        )
    return Run(
        module_us=lines[at].cumulative_us,
        all_us=sum(line.self_us for line in lines),
        subtree=times,
    )


def _start(lines: Sequence[Line], at: int) -> int:
    """Where the lines that ``lines[at]`` encloses begin: they come before it, deeper."""
    start = at
    while start > 0 and lines[start - 1].depth > lines[at].depth:
        start -= 1
    return start


def _origins(stdout: str) -> dict[str, bool]:
    """Module name -> is it standard library, from the priming run's report."""
    _, marker, rest = stdout.rpartition(_ORIGINS_MARKER)
    found: dict[str, bool] = {}
    if not marker:
        return found
    for line in rest.splitlines():
        name, _, kind = line.strip().partition(" ")
        if kind in ("stdlib", "other"):
            found[name] = kind == "stdlib"
    return found


def _gains(
    cold: Sequence[Run], warm: Sequence[Run], stdlib: dict[str, bool]
) -> tuple[ModuleGain, ...]:
    names = {name for run in (*cold, *warm) for name in run.subtree}
    gains = []
    for name in names:
        cold_times = [run.subtree[name] for run in cold if name in run.subtree]
        warm_times = [run.subtree[name] for run in warm if name in run.subtree]
        gains.append(
            ModuleGain(
                name=name,
                stdlib=stdlib.get(name),
                cold_self_us=_median(t[0] for t in cold_times),
                warm_self_us=_median(t[0] for t in warm_times),
                cold_cumulative_us=_median(t[1] for t in cold_times),
                warm_cumulative_us=_median(t[1] for t in warm_times),
            )
        )
    gains.sort(key=lambda g: (-g.saved_self_us, g.name))
    return tuple(gains)


def _median(values: Iterable[int]) -> int:
    """The median in whole microseconds (what -X importtime reports); 0 for no values."""
    numbers = list(values)
    return round(statistics.median(numbers)) if numbers else 0
