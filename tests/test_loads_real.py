"""The proof that ``loads`` agrees with what each real interpreter actually loads.

Method, for every case: the target interpreter itself compiles one value into a cache file
(``V = 'aaaa'``), the source is then changed to a different value of the same length (or
mutated in another controlled way: mtime, size, deletion, damaged header), and the same
interpreter imports the module and prints ``V``. The old value means the cache file was
loaded, the new value (or ImportError when there is no source) means it was not. The
record's ``loads`` must equal that observation, and its status must be the expected one.

Cases where the source bytes must stay identical (a pure ``touch``, a fresh hash-based pyc)
use a marker instead of an edit: the cache holds the ``-OO`` build of the very same source,
whose module docstring is stripped, so ``V = __doc__ or 'old'`` says which code ran.

The tool always runs in this venv's Python, so every other interpreter's hash pycs are
judged across versions (SipHash-2-4 for 3.7-3.10 and PyPy, SipHash-1-3 for 3.11+).

Each test costs one compile subprocess and one import subprocess per set of interpreter
flags; the caches are built from staged copies of the sources (same size and mtime as the
tree's source had at compile time), so every mutation is set up before a single compile run.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import os
import py_compile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pycache_tool import Record, Status, scan
from pycache_tool.bytecode.interpreters import CheckHashMode, Interpreter, query

from .conftest import INTERPRETERS, interpreter_params, run_python, write

pytestmark = pytest.mark.interpreters

SEC = 10**9
T0 = 1_700_000_000 * SEC + 250_000_000  # a fractional mtime: ...000.25
HASH_VERSIONS = ["3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"]
CHECK_FLAGS: dict[CheckHashMode, list[str]] = {
    "default": [],
    "always": ["--check-hash-based-pycs", "always"],
    "never": ["--check-hash-based-pycs", "never"],
}

Damage = Callable[[Path, Path, Interpreter], None]


@functools.cache
def target_of(exe: str) -> Interpreter:
    return query(exe)


@dataclasses.dataclass(frozen=True)
class Case:
    """One module: its cache file, its source, how it is imported, what must come out."""

    name: str  # module name, unique in the tree
    old: str  # V compiled into the cache file (the value seen when it is loaded)
    new: str | None  # V in the source the import finds; None: there is no source
    status: Status  # what the tool must say
    loads: bool  # what the interpreter does (checked against the real run too)
    where: str = "pycache"  # "pycache": PEP 3147 name; "beside": STEM.pyc/.pyo (legacy)
    level: int = 0  # optimization level of the cache file's name (.opt-N; .pyo beside)
    pyo: bool = False  # the cache file is named .pyo
    mode: str = "TIMESTAMP"  # py_compile.PycInvalidationMode on 3.7+
    compile_ns: int = T0  # source mtime when compiled (stored in a timestamp header)
    source_ns: int = T0  # source mtime at import time
    flags: tuple[str, ...] = ()  # interpreter flags of the checking import
    check: CheckHashMode = "default"  # the target's check_hash_based_pycs for the scan
    damage: Damage | None = None  # applied to the cache file after compiling
    levels: tuple[int, ...] = ()  # more cache files of this module at these levels
    marker: bool = False  # source unchanged; the cache is the -OO build (see module doc)

    def text(self, value: str) -> str:
        if self.marker:
            return f'"""{self.new}"""\nV = __doc__ or {self.old!r}\n'
        return f"V = {value!r}\n"


# Runs in the target interpreter (2.7 too): compiles staged sources to the tree's cache names.
_COMPILE = r"""
import json, sys, py_compile
try:
    from importlib.util import cache_from_source
except ImportError:
    cache_from_source = None
out = []
for job in json.loads(%s):
    src = job["source"]
    if job["where"] == "beside":
        cfile = src[:-3] + (".pyo" if job["pyo"] else ".pyc")
    else:
        cfile = cache_from_source(src, optimization=job["level"] or "")
        if job["pyo"]:
            cfile = cfile[:-4] + ".pyo"
    kwargs = {}
    if sys.version_info >= (3, 7):
        kwargs["invalidation_mode"] = getattr(py_compile.PycInvalidationMode, job["mode"])
    if sys.version_info >= (3,):
        kwargs["optimize"] = job["build"]
    py_compile.compile(job["staged"], cfile=cfile, doraise=True, **kwargs)
    out.append(cfile)
print(json.dumps(out))
"""

# Runs in the target interpreter: imports each module, prints V or the exception.
_IMPORT = r"""
import json, sys
sys.path.insert(0, json.loads(%s))
out = {}
for name in json.loads(%s):
    try:
        out[name] = __import__(name).V
    except Exception as exc:
        out[name] = "!%%s: %%s" %% (type(exc).__name__, exc)
print(json.dumps(out))
"""


def _literal(value: object) -> str:
    """A Python string literal (valid in 2.7 and 3.x) holding ``value`` as JSON."""
    return json.dumps(json.dumps(value))


def _set_mtime(path: Path, ns: int) -> None:
    os.utime(path, ns=(ns, ns))


def _run(exe: str, code: str, cwd: Path, args: list[str] | None = None) -> str:
    done = run_python(exe, code, cwd=cwd, args=args)
    assert done.returncode == 0, f"{exe} {args or []} failed:\n{done.stderr}"
    return done.stdout


def compile_all(exe: str, py2: bool, tmp_path: Path, cases: list[Case]) -> dict[str, Path]:
    """Build every case's cache files in ``exe``; return module name -> its main cache file."""
    tree, stage = tmp_path / "tree", tmp_path / "stage"
    stage.mkdir(parents=True, exist_ok=True)
    tree.mkdir(parents=True, exist_ok=True)
    jobs: dict[int, list[dict[str, object]]] = defaultdict(list)
    for case in cases:
        for level in (case.level, *case.levels):
            value = case.old if level == case.level else case.old[:-1] + str(level)
            staged = write(stage / f"{case.name}.{level}.py", case.text(value))
            _set_mtime(staged, case.compile_ns)
            build = 2 if case.marker else level
            jobs[build if py2 else 0].append(
                {
                    "name": case.name,
                    "main": level == case.level,
                    "staged": str(staged),
                    "source": str(tree / f"{case.name}.py"),
                    "where": case.where,
                    "pyo": case.pyo or (py2 and level > 0),
                    "level": level,
                    "mode": case.mode,
                    "build": build,
                }
            )
    caches: dict[str, Path] = {}
    for build, batch in jobs.items():
        # Python 2's py_compile has no optimize argument: run it under -O/-OO instead.
        flags = ["-" + "O" * build] if build else []
        out = json.loads(_run(exe, _COMPILE % _literal(batch), tmp_path, flags))
        for job, cfile in zip(batch, out):
            if job["main"]:
                caches[str(job["name"])] = Path(cfile)
    for case in cases:
        if case.new is not None:
            _set_mtime(write(tree / f"{case.name}.py", case.text(case.new)), case.source_ns)
        if case.damage is not None:
            case.damage(caches[case.name], stage / f"{case.name}.{case.level}.py", target_of(exe))
    return caches


def import_all(exe: str, tmp_path: Path, cases: list[Case]) -> dict[str, str]:
    """Import every case in ``exe`` (one run per set of flags); module name -> V or '!Error'."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for case in cases:
        groups[case.flags].append(case.name)
    seen: dict[str, str] = {}
    for flags, names in groups.items():
        code = _IMPORT % (_literal(str(tmp_path / "tree")), _literal(names))
        done = run_python(exe, code, cwd=tmp_path, args=list(flags))
        if done.returncode != 0 and "--check-hash-based-pycs" in flags:
            pytest.skip(f"{exe} rejects {' '.join(flags)}: {done.stderr.strip()[-200:]}")
        assert done.returncode == 0, f"{exe} {list(flags)} failed:\n{done.stderr}"
        seen.update(json.loads(done.stdout))
    return seen


def scan_all(exe: str, tmp_path: Path, cases: list[Case]) -> dict[tuple[str, str], Record]:
    """(check mode, path) -> record, scanning the tree once per check_hash_based_pycs mode."""
    records: dict[tuple[str, str], Record] = {}
    for check in sorted({case.check for case in cases}):
        target = dataclasses.replace(target_of(exe), check_hash_based_pycs=check)
        for record in scan([str(tmp_path / "tree")], targets=[target]):
            records[check, record.path] = record
    return records


def verify(
    exe: str, tmp_path: Path, cases: list[Case], caches: dict[str, Path] | None = None
) -> dict[str, Path]:
    """Build (unless ``caches`` says it is built), import, scan; fail listing every case where
    the tool and the interpreter differ."""
    py2 = target_of(exe).tag is None
    if caches is None:
        caches = compile_all(exe, py2, tmp_path, cases)
    seen = import_all(exe, tmp_path, cases)
    records = scan_all(exe, tmp_path, cases)
    problems: list[str] = []
    for case in cases:
        value = seen[case.name]
        not_found = case.new is None and value.startswith(("!ImportError", "!ModuleNotFound"))
        if value == case.old:
            loaded = True
        elif value == case.new or not_found:
            loaded = False
        else:
            problems.append(f"{case.name}: the import gave neither value: {value!r}")
            continue
        if loaded != case.loads:
            problems.append(
                f"{case.name}: the interpreter {'loaded' if loaded else 'ignored'} the cache "
                f"(V={value!r}); this test expected otherwise"
            )
        record = records.get((case.check, str(caches[case.name])))
        if record is None:
            problems.append(f"{case.name}: no record for {caches[case.name]}")
            continue
        if record.loads is not loaded or record.status is not case.status:
            problems.append(
                f"{case.name}: the interpreter {'loaded' if loaded else 'ignored'} the cache "
                f"(V={value!r}) but the tool said {record.status.value}, loads={record.loads} "
                f"({record.reason}); expected {case.status.value}"
            )
        source = str(tmp_path / "tree" / f"{case.name}.py")
        if record.status in (Status.FRESH, Status.STALE, Status.LEGACY) and record.source != source:
            problems.append(f"{case.name}: source {record.source!r} != {source!r}")
        if record.optimization != (1 if case.pyo or (py2 and case.level) else case.level):
            problems.append(f"{case.name}: optimization {record.optimization} != {case.level}")
        if not py2 and case.damage is None and case.where == "pycache":
            expected = {"TIMESTAMP": "timestamp", "CHECKED_HASH": "checked-hash"}.get(
                case.mode, "unchecked-hash"
            )
            if record.invalidation != expected:
                problems.append(f"{case.name}: invalidation {record.invalidation} != {expected}")
    assert not problems, "\n".join(problems)
    return caches


# --- damage done to a cache file after compiling -------------------------------------------


def _truncate(cache: Path, staged: Path, target: Interpreter) -> None:
    cache.write_bytes(cache.read_bytes()[:6])  # inside the header of every era (8, 12, 16)


def _flipper(offset: int, bit: int) -> Damage:
    def flip(cache: Path, staged: Path, target: Interpreter) -> None:
        data = bytearray(cache.read_bytes())
        data[offset] ^= bit
        cache.write_bytes(bytes(data))

    return flip


def _foreign(cache: Path, staged: Path, target: Interpreter) -> None:
    """Replace the cache by another Python's build of the same staged source."""
    donor = cache.with_name("donor.tmp")
    running = int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little")
    if target.magic != running:
        py_compile.compile(
            str(staged),
            cfile=str(donor),
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
        )
    else:
        other = next(
            (
                exe
                for exe in INTERPRETERS.values()
                if target_of(exe).tag and target_of(exe).magic != running
            ),
            None,
        )
        if other is None:
            pytest.skip("no other Python 3 to build a foreign pyc with")
        code = f"import py_compile; py_compile.compile({str(staged)!r}, cfile={str(donor)!r})"
        _run(other, code, staged.parent)
    donor.replace(cache)


TRUNCATE: Damage = _truncate
FLIP_MARKER = _flipper(2, 0x01)  # '\r' -> '\x0c': not bytecode at all
FLIP_MAGIC = _flipper(1, 0x40)  # a magic number no Python ever used
FLIP_FLAGS = _flipper(4, 0x04)  # PEP 552 flags 4: invalid
FOREIGN: Damage = _foreign


# --- the cases ------------------------------------------------------------------------------


def _py2(exe: str) -> bool:
    return target_of(exe).tag is None


def _version(exe: str) -> tuple[int, int]:
    major, _, minor = target_of(exe).version.partition(".")
    return int(major), int(minor)


@pytest.mark.parametrize("exe", interpreter_params())
def test_timestamp_pycs(exe: str, tmp_path: Path) -> None:
    """Edits, touches and damage to timestamp pycs in the interpreter's own location."""
    py2 = _py2(exe)
    cpython36 = target_of(exe).implementation == "cpython" and _version(exe) == (3, 6)
    home = "beside" if py2 else "pycache"
    fresh, stale = (Status.FRESH, True), (Status.STALE, False)
    corrupt = (Status.CORRUPT, False)
    at = functools.partial(Case, old="aaaa", new="bbbb", where=home)

    def case(name: str, verdict: tuple[Status, bool], **kw: Any) -> Case:
        return at(name=name, status=verdict[0], loads=verdict[1], **kw)

    second = 1_800_000_000 * SEC
    y2038 = (2**31 + 1000) * SEC
    y2106 = (2**32 + 5) * SEC
    cases = [
        # Same size, same mtime: the edit is invisible, the old code runs.
        case("m_fresh", fresh),
        case("m_edit_mtime", stale, source_ns=T0 + 10 * SEC),
        # A different size at the very same mtime: only Python 2 has no size field.
        case("m_edit_size", fresh if py2 else stale, new="bbbbbb"),
        # Same whole second (.25 -> .75): int(st_mtime) is unchanged, the edit is invisible.
        case("m_same_second", fresh, source_ns=T0 + 500_000_000),
        case("m_earlier_mtime", stale, source_ns=T0 - 100 * SEC),
        # mtime-only touches of an unchanged source (the marker shows which code ran).
        case("m_touch_none", fresh, marker=True, old="old", new="new"),
        case("m_touch_next", stale, marker=True, old="old", new="new", source_ns=T0 + SEC),
        case("m_touch_sub", fresh, marker=True, old="old", new="new", source_ns=T0 + 10**8),
        # x.999999999 s is st_mtime == x+1.0 as a float; int(st_mtime) is what py_compile
        # writes and what importlib compares; Python 2's C import compares the C time_t (x).
        case(
            "m_ns_edge",
            stale if py2 else fresh,
            compile_ns=second - 1,
            source_ns=second - 1,
        ),
        case("m_ns_round", stale if py2 else fresh, compile_ns=second, source_ns=second - 1),
        # Beyond 2038 (signed 32-bit) and 2106 (unsigned 32-bit wrap).
        # Python 2 reads the stored mtime as a signed 32-bit number: never equal past 2038.
        case("m_y2038", stale if py2 else fresh, compile_ns=y2038, source_ns=y2038),
        case("m_y2106", stale if cpython36 else fresh, compile_ns=y2106, source_ns=y2106),
        # Source deleted: in __pycache__ an orphan never imported; beside it (Python 2) a
        # sourceless module that imports.
        case("m_no_source", (Status.SOURCELESS, True) if py2 else (Status.ORPHAN, False), new=None),
        # Damage: the interpreter recompiles from the (invisibly edited) source.
        case("m_truncated", corrupt, damage=TRUNCATE),
        case("m_flip_marker", corrupt, damage=FLIP_MARKER),
        # A magic no Python uses: the tag's interpreter rejects it; beside a source (Python
        # 2's place) no interpreter that reads caches there uses it either.
        case("m_flip_magic", (Status.UNKNOWN, False) if py2 else corrupt, damage=FLIP_MAGIC),
        # Another Python's build copied under this interpreter's name.
        case("m_foreign", (Status.LEGACY, False) if py2 else corrupt, damage=FOREIGN),
    ]
    if not py2 and _version(exe) >= (3, 7):
        cases.append(case("m_flip_flags", corrupt, damage=FLIP_FLAGS))
    verify(exe, tmp_path, cases)

    # require_fresh: a source without any cache is "missing"; sources with a cache are not.
    write(tmp_path / "tree" / "m_nocache.py", "V = 1\n")
    target = target_of(exe)
    missing = [
        r.source
        for r in scan([str(tmp_path / "tree")], targets=[target], require_fresh=True)
        if r.status is Status.MISSING
    ]
    assert missing == [str(tmp_path / "tree" / "m_nocache.py")], missing


@pytest.mark.parametrize("exe", interpreter_params())
def test_legacy_and_sourceless(exe: str, tmp_path: Path) -> None:
    """STEM.pyc/.pyo beside the source or alone: Python 3 ignores the first, imports the second."""
    py2 = _py2(exe)
    beside = functools.partial(Case, old="aaaa", new="bbbb", where="beside")
    cases = [
        beside(
            name="m_legacy",
            status=Status.FRESH if py2 else Status.LEGACY,
            loads=py2,
        ),
        beside(name="m_sourceless", new=None, status=Status.SOURCELESS, loads=True),
        # .pyo: Python 2 reads it under -O; Python 3.5+ never.
        beside(
            name="m_legacy_pyo",
            pyo=True,
            flags=("-O",),
            status=Status.FRESH if py2 else Status.LEGACY,
            loads=py2,
        ),
        beside(
            name="m_sourceless_pyo",
            pyo=True,
            new=None,
            flags=("-O",),
            status=Status.SOURCELESS if py2 else Status.ORPHAN,
            loads=py2,
        ),
    ]
    if not py2:
        cases.append(
            Case(
                "m_pycache_pyo",
                "aaaa",
                "bbbb",
                Status.ORPHAN,
                False,
                pyo=True,
                flags=("-O",),
            )
        )
    verify(exe, tmp_path, cases)


@pytest.mark.parametrize("exe", interpreter_params())
def test_optimization_levels(exe: str, tmp_path: Path) -> None:
    """Every module has a cache per level, each of a different value: each run picks its own."""
    py2 = _py2(exe)
    where = "beside" if py2 else "pycache"
    all_levels = (0, 1) if py2 else (0, 1, 2)  # Python 2 has one .pyo for both -O and -OO
    cases = [
        Case(
            f"m_level{run}",
            f"aaa{level}",
            "bbbb",
            Status.FRESH,
            True,
            where=where,
            level=level,
            levels=tuple(other for other in all_levels if other != level),
            flags=("-" + "O" * run,) if run else (),
        )
        for run, level in ((0, 0), (1, 1), (2, 1 if py2 else 2))
    ]
    cases.append(
        Case(
            "m_level1_stale",
            "aaa1",
            "bbbb",
            Status.STALE,
            False,
            where=where,
            level=1,
            flags=("-O",),
            source_ns=T0 + 10 * SEC,
        )
    )
    verify(exe, tmp_path, cases)


def hash_cases(check: CheckHashMode) -> list[Case]:
    """PEP 552 cases for one --check-hash-based-pycs mode (module names prefixed by it)."""
    flags = tuple(CHECK_FLAGS[check])
    case = functools.partial(Case, flags=flags, check=check)
    later = T0 + 10 * SEC
    cases = [
        case(f"{check}_ts_stale", "aaaa", "bbbb", Status.STALE, False, source_ns=later),
        case(
            f"{check}_checked_stale",
            "aaaa",
            "bbbb",
            Status.STALE,
            check == "never",
            mode="CHECKED_HASH",
        ),
        case(
            f"{check}_unchecked_stale",
            "aaaa",
            "bbbb",
            Status.STALE,
            check != "always",
            mode="UNCHECKED_HASH",
        ),
        # The very same bytes, another mtime: a hash pyc does not care, it is loaded.
        case(
            f"{check}_checked_fresh",
            "old",
            "new",
            Status.FRESH,
            True,
            mode="CHECKED_HASH",
            marker=True,
            source_ns=later,
        ),
        case(
            f"{check}_unchecked_fresh",
            "old",
            "new",
            Status.FRESH,
            True,
            mode="UNCHECKED_HASH",
            marker=True,
            source_ns=later,
        ),
    ]
    if check == "default":  # hash pycs at the optimization levels
        cases += [
            case(
                "default_checked_opt1",
                "aaaa",
                "bbbb",
                Status.STALE,
                False,
                mode="CHECKED_HASH",
                level=1,
                flags=("-O",),
            ),
            case(
                "default_unchecked_opt2",
                "aaaa",
                "bbbb",
                Status.STALE,
                True,
                mode="UNCHECKED_HASH",
                level=2,
                flags=("-OO",),
            ),
        ]
    return cases


@pytest.fixture(scope="module")
def hash_trees() -> dict[str, tuple[Path, dict[str, Path]]]:
    """exe -> (root, caches): the hash cases of every mode, compiled once per interpreter."""
    return {}


@pytest.mark.parametrize("check", ["default", "always", "never"])
@pytest.mark.parametrize("exe", interpreter_params(HASH_VERSIONS))
def test_invalidation_modes(
    exe: str,
    check: CheckHashMode,
    hash_trees: dict[str, tuple[Path, dict[str, Path]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """PEP 552: timestamp, checked and unchecked hash pycs, under each --check-hash-based-pycs.

    The imports never write bytecode, so one build per interpreter serves the three modes.
    """
    if exe not in hash_trees:
        root = tmp_path_factory.mktemp("hash")
        every = [c for mode in CHECK_FLAGS for c in hash_cases(mode)]
        hash_trees[exe] = root, compile_all(exe, False, root, every)
    root, caches = hash_trees[exe]
    verify(exe, root, hash_cases(check), caches)
