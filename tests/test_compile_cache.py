"""The compile cache (`compile --cache DIR`, `cache info`, `cache prune`): hits write the bytes a
cold compile writes at that place, for every interpreter, mode and level; damaged entries are
never used; concurrent compiles and prunes corrupt nothing; a cache that cannot be used is
said once and the compile goes on without it.

The proof that bytes are right is always a cold compile by the same interpreter at the same
place, compared byte for byte, and the interpreter's own import (``python -v``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pycache_tool.compile import cache, cachedir
from pycache_tool.compile.plan import compile_trees
from pycache_tool.compile.results import CompileResult, Options

from .conftest import INTERPRETERS, cli, cli_json, interpreter_params, run_python, write
from .test_compile import (
    COMPILE_VERSIONS,
    MODULE_NAMES,
    MODULES,
    assert_all_from_pyc,
    cache_tag,
    copy_fresh_mtimes,
    import_verbose,
    make_tree,
    pycs,
)

MODES = ("timestamp", "checked-hash", "unchecked-hash")
TOOL = [sys.executable, "-m", "pycache_tool"]
RELOCATE = Path(__file__).resolve().parents[1] / "pycache_tool" / "compile" / "relocate.py"

# What makes marshal output depend on the writing process, in one tree: strings interned or
# not, one-character strings, frozensets (hash order before 3.11), names used once and
# twice, nested code, closures, qualnames, non-ASCII text, long strings, every constant type.
TRICKY = {
    "tricky/__init__.py": '"""Tricky constants."""\n__all__ = ("f", "g", "Klass")\n',
    "tricky/consts.py": (
        "A = {'{', '}', '', 'x', 'action', 'help', 'sélection'}\n"
        "def member(v):\n"
        "    return v in {1, 'a', 2.5, (1, 2), b'x', -0.0, 3j, 10**30, None}\n"
        "def loop():\n"
        "    return [x for x in {3, 1, 2, 'z', 'y'}]\n"
        "LONG = '" + "long text " * 40 + "'\n"
        "BYTES = (b'', b'x', b'xy' * 300)\n"
        "NUMS = (1, -5, 257, 2**63, 1.0, 0.0, -0.0, 1e300, 2j)\n"
        "café = 'café ☃'\n"
    ),
    "tricky/code.py": (
        "import functools\n"
        "class Klass:\n"
        "    '''Doc.'''\n"
        "    def method(self, action, help=None, *args, **kw):\n"
        "        def inner(y):\n"
        "            return action(y, help=help, key='{')\n"
        "        return inner\n"
        "    @functools.lru_cache(maxsize=None)\n"
        "    def cached(self):\n"
        "        return lambda q: q + '}'\n"
        "async def coro(x):\n"
        "    async for y in x:\n"
        "        yield f'{y!r:>10}'\n"
        "def g(a, /, b, *, c):\n"
        "    try:\n"
        "        return {k: v for k, v in zip(a, b) if k not in {'skip', 'also'}}\n"
        "    except (KeyError, ValueError) as exc:\n"
        "        raise RuntimeError(str(exc)) from exc\n"
        "f = g\n"
    ),
}


def make_corpus(root: Path, exe: str | None = None) -> Path:
    """The compile tests' tree, the tricky one, and real modules of the target's stdlib."""
    make_tree(root)
    for rel, text in TRICKY.items():
        write(root / rel, text)
    if exe is not None:
        stdlib = run_python(exe, "import sysconfig; print(sysconfig.get_paths()['stdlib'])")
        base = Path(stdlib.stdout.strip())
        (root / "std").mkdir()
        for name in ("ast.py", "_markupbase.py", "fnmatch.py"):
            if (base / name).is_file():
                shutil.copyfile(base / name, root / "std" / name)
    return root


def run(root: Path, exe: str | None = None, **options: Any) -> CompileResult:
    """compile_trees for one target (default: the interpreter running the tests)."""
    from pycache_tool.bytecode import interpreters

    target = interpreters.query(exe) if exe else interpreters.current()
    result = compile_trees([str(root)], [target], Options(**options))
    assert not result.errors, result.errors
    return result


def entries(directory: Path) -> list[Path]:
    found = (directory / cache.LAYOUT).glob("*/??/*")
    return sorted(p for p in found if p.is_file() and not p.name.startswith(cache.TEMP_PREFIX))


def temp_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob(cache.TEMP_PREFIX + "*"))


def assert_entries_valid(directory: Path) -> None:
    """Every entry file decodes under the key its place names."""
    for path in entries(directory):
        name = path.parent.parent.name
        digest = bytes.fromhex(path.parent.name + path.name.split(".")[0])
        key = cache.entry_key(name, int(path.name.split(".")[1]), digest)
        cache.decode(path.read_bytes(), key)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for every interpreter of the module's tests."""
    return tmp_path_factory.mktemp("shared") / "cache"


# --- byte identity -------------------------------------------------------------------------


@pytest.mark.parametrize("exe", interpreter_params(COMPILE_VERSIONS))
def test_hits_write_the_bytes_of_a_cold_compile(
    exe: str, tmp_path: Path, shared_cache: Path
) -> None:
    """For every mode and levels 0-2: a compile that fills the cache, a hit at the same path
    and a hit at another path (non-ASCII, longer than 255 bytes, other mtimes) each write
    exactly what a cold compile without the cache writes there. Entries are shared across
    modes (the header is each tree's own); several interpreters share the one cache."""
    first = make_corpus(tmp_path / "a" / "tree", exe)
    other = tmp_path / "sécond ☃" / ("x" * 200) / "tree"
    copy_fresh_mtimes(first, other)
    assert len(str(other / "tricky" / "consts.py").encode()) > 255
    sources = len(list(first.rglob("*.py")))
    for mode in MODES:
        common: dict[str, Any] = {"levels": (0, 1, 2), "invalidation_mode": mode, "force": True}
        for root in (first, other):
            run(root, exe, **common)
            cold = pycs(root)
            assert len(cold) == 3 * sources
            result = run(root, exe, cache=str(shared_cache), **common)
            assert pycs(root) == cold, f"{mode}: the cached compile of {root} differs"
            [target] = result.targets
            if root == other or mode != "timestamp":
                assert target.from_cache == 3 * sources, "every cache from the cache"
    assert pycs(first) != pycs(other)  # the file name recorded differs, and nothing else
    info = cachedir.describe_cache(str(shared_cache))
    assert cache_tag(exe) in [p.name.rsplit("-", 1)[0] for p in info.interpreters]


@pytest.mark.parametrize("exe", interpreter_params(COMPILE_VERSIONS))
def test_templates_do_not_depend_on_the_process(exe: str, tmp_path: Path) -> None:
    """Inside the target, a sample of its own standard library at levels 0 and 2: templates
    made in a fresh process, in one that imported many modules and compiled other files first
    (keeping their code), and in the reverse order from another path are byte-identical."""
    script = tmp_path / "templates.py"
    script.write_text(TEMPLATES_SCRIPT)
    outputs = []
    for state in ("plain", "busy", "reverse"):
        done = subprocess.run(
            [exe, "-s", "-B", str(script), str(RELOCATE), state],
            capture_output=True,
            text=True,
            timeout=300,
            env={"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "")},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(json.loads(done.stdout))
    assert len(outputs[0]) > 100
    assert outputs[0] == outputs[1] == outputs[2]


TEMPLATES_SCRIPT = """\
import hashlib, importlib.util, json, os, sys, sysconfig, warnings
spec = importlib.util.spec_from_file_location("_relocate", sys.argv[1])
relocate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(relocate)
warnings.simplefilter("ignore")
state = sys.argv[2]
stdlib = sysconfig.get_paths()["stdlib"]
files = []
for directory, subdirs, names in os.walk(stdlib):
    subdirs[:] = sorted(d for d in subdirs if d != "site-packages")
    files += [os.path.join(directory, n) for n in sorted(names) if n.endswith(".py")]
files = files[::12]
kept = []
if state == "busy":
    import argparse, decimal, email.parser, json, logging, typing, unittest, xml.dom.minidom
    for path in files[::-1]:
        try:
            with open(path, "rb") as f:
                kept.append(compile(f.read(), path, "exec"))
        except Exception:
            pass
if state == "reverse":
    files = files[::-1]
found = {}
for path in files:
    with open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    for level in (0, 2):
        try:
            code = compile(data, "/elsewhere" + path if state == "reverse" else path, "exec",
                           dont_inherit=True, optimize=level)
        except Exception:
            continue
        template = relocate.template(code, "<pycache-tool %s>" % digest)
        body = relocate.place(template, path)
        found["%s:%d" % (path, level)] = hashlib.sha256(template.body + body).hexdigest()
print(json.dumps(found, sort_keys=True))
"""


# --- damage --------------------------------------------------------------------------------


def _damage(path: Path, how: str, other: Path) -> None:
    data = path.read_bytes()
    if how == "flip body":
        path.write_bytes(data[:-7] + bytes([data[-7] ^ 0x10]) + data[-6:])
    elif how == "flip header":
        path.write_bytes(data[:20] + bytes([data[20] ^ 1]) + data[21:])
    elif how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "trailing":
        path.write_bytes(data + b"\0")
    elif how == "foreign":  # a whole, valid entry of another source
        path.write_bytes(other.read_bytes())
    elif how == "symlink":
        path.unlink()
        path.symlink_to(other)
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif how == "bad placeholder":  # a checksum that matches, around a template that lies
        key = data[8:40]
        body, offset, length, said = cache.decode(data, key)
        path.write_bytes(cache.encode(key, (body, offset + 1, length), said))
    else:
        raise AssertionError(how)


DAMAGE = [
    "flip body",
    "flip header",
    "truncate",
    "empty",
    "trailing",
    "foreign",
    "symlink",
    "fifo",
    "bad placeholder",
]


def test_damaged_entries_are_compiled_again_and_replaced(tmp_path: Path) -> None:
    """Flip, truncate, empty, extend, swap, link or replace every entry: the next compile uses
    none of them, writes exactly the cold compile's bytes, counts each as damaged, and
    replaces it; the compile after that takes them all from the cache."""
    root = make_corpus(tmp_path / "proj")
    store = tmp_path / "cache"
    run(root, levels=(0, 1), force=True)
    cold = pycs(root)
    run(root, cache=str(store), levels=(0, 1), force=True)
    found = entries(store)
    assert len(found) == len(cold) > len(DAMAGE)
    spare = tmp_path / "spare"
    shutil.copyfile(found[0], spare)
    for n, path in enumerate(found):
        _damage(path, DAMAGE[n % len(DAMAGE)], spare if n else found[1])
    [target] = run(root, cache=str(store), levels=(0, 1), force=True).targets
    assert pycs(root) == cold
    assert (target.from_cache, target.damaged) == (0, len(found))
    assert_entries_valid(store)
    assert all(p.is_file() and not p.is_symlink() for p in entries(store))
    [target] = run(root, cache=str(store), levels=(0, 1), force=True).targets
    assert target.from_cache == len(cold) and pycs(root) == cold


def test_damage_in_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_tree(tmp_path / "proj")
    store = tmp_path / "cache"
    assert cli(capsys, "compile", "--cache", str(store), str(root))[0] == 0
    for path in entries(store)[:2]:
        _damage(path, "truncate", path)
    code, out, err = cli(capsys, "compile", "--cache", str(store), "-f", str(root))
    assert code == 0, err
    assert (
        "wrote 6 of 6 caches (level 0, timestamp, --force): 4 from the compile cache, 2 compiled"
        in out
    )
    assert "(2 damaged entries replaced)" in out
    code, report = cli_json(capsys, "compile", "--cache", str(store), "-f", str(root))
    assert report["targets"][0]["from_cache"] == 6 and report["targets"][0]["cache_damaged"] == 0


def test_a_hit_reports_the_warnings_its_compile_gave(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A source the compiler warns about: the run that takes it from the cache prints the same
    warning, at the same line, as the run that compiled it."""
    root = tmp_path / "proj"
    write(root / "warns.py", "import re\n\nPATTERN = re.compile('\\d+')\nX = 1 is 1\n")
    store = tmp_path / "cache"
    outputs = []
    for _ in range(2):
        code, report = cli_json(capsys, "compile", "-f", "--cache", str(store), str(root))
        assert code == 0
        outputs.append((report["warnings"], report["summary"]["from_cache"]))
    (cold, compiled), (warm, hits) = outputs
    assert (compiled, hits) == (0, 1)
    assert warm == cold and len(cold) == 2
    assert {w["line"] for w in cold} == {3, 4}
    code, out, err = cli(capsys, "compile", "-f", "--cache", str(store), str(root))
    assert "warns.py:3: " in err + out and "warns.py:4: SyntaxWarning" in err + out


# --- imports ---------------------------------------------------------------------------------


RECORDED = """\
import marshal, sys, types
def names(code):
    yield code.co_filename
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from names(const)
with open(sys.argv[1], "rb") as f:
    print(sorted(set(names(marshal.loads(f.read()[16:])))))
"""


@pytest.mark.parametrize("exe", interpreter_params(COMPILE_VERSIONS))
def test_a_tree_from_a_warm_cache_imports_from_bytecode(exe: str, tmp_path: Path) -> None:
    """Filled from one tree, used by a copy elsewhere: every module of the copy loads from its
    pyc (python -v), the code objects record the copy's own paths (or the prefixed path), and a
    traceback names the copy's file."""
    first = make_tree(tmp_path / "first")
    write(
        first / "boom.py",
        "def fail():\n    def inner():\n        raise ValueError('x')\n    inner()\n",
    )
    store = tmp_path / "cache"
    run(first, exe, cache=str(store), invalidation_mode="checked-hash")
    copy = tmp_path / "copy"
    copy_fresh_mtimes(first, copy)
    for pycache in list(copy.rglob("__pycache__")):
        shutil.rmtree(pycache)
    [target] = run(copy, exe, cache=str(store), invalidation_mode="checked-hash").targets
    assert target.from_cache == target.compiled == len(MODULES) + 1
    trace = import_verbose(exe, copy, [*MODULE_NAMES, "boom"])
    assert_all_from_pyc(trace, copy, cache_tag(exe))
    pyc = copy / "__pycache__" / f"boom.{cache_tag(exe)}.pyc"
    shown = subprocess.run(
        [exe, "-c", RECORDED, str(pyc)], capture_output=True, text=True, timeout=60
    ).stdout
    assert shown.strip() == repr([str(copy / "boom.py")])
    failed = run_python(exe, "import boom; boom.fail()", cwd=copy)
    assert f'File "{copy / "boom.py"}", line 3, in inner' in failed.stderr, failed.stderr
    # The name put in place is the one asked for, whatever the entry was filled with.
    run(copy, exe, cache=str(store), strip_prefix=str(copy), prepend_prefix="/srv/app", force=True)
    shown = subprocess.run(
        [exe, "-c", RECORDED, str(pyc)], capture_output=True, text=True, timeout=60
    ).stdout
    assert shown.strip() == repr(["/srv/app/boom.py"])


# --- sharing ---------------------------------------------------------------------------------


def many_modules(root: Path, count: int) -> Path:
    for n in range(count):
        body = "".join(
            f"def f{i}(a, b=({n}, {i})):\n    '''Doc {i}.'''\n    return [a, b, {{'k{i}': a}}]\n"
            for i in range(12)
        )
        write(root / f"pkg{n % 5}" / f"m{n}.py", f"NAME = 'm{n}'\n{body}")
    return root


def remove_pycs(root: Path) -> None:
    for pycache in list(root.rglob("__pycache__")):
        shutil.rmtree(pycache)


def test_two_compiles_fill_one_empty_cache_at_once(tmp_path: Path) -> None:
    """Two runs of the same sources in two trees start together on one empty cache: both
    succeed, each writes its cold compile's bytes, every entry is whole, no temp file stays."""
    trees = [many_modules(tmp_path / "one", 120), tmp_path / "two"]
    shutil.copytree(trees[0], trees[1])
    cold = []
    for tree in trees:
        run(tree, force=True)
        cold.append(pycs(tree))
        remove_pycs(tree)
    store = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [*TOOL, "compile", "-j", "2", "--cache", str(store), str(tree)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tree in trees
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
        assert "warning" not in err, err
    assert [pycs(tree) for tree in trees] == cold
    assert len(entries(store)) == 120
    assert_entries_valid(store)
    assert temp_files(store) == []


def test_prune_during_a_compile(tmp_path: Path) -> None:
    """`cache prune --max-size 0` over and over while a compile fills the cache: the compile
    succeeds with its cold bytes, and whatever is left in the cache is whole."""
    tree = many_modules(tmp_path / "tree", 150)
    run(tree, force=True)
    cold = pycs(tree)
    remove_pycs(tree)
    store = tmp_path / "cache"
    proc = subprocess.Popen(
        [*TOOL, "compile", "-j", "1", "--cache", str(store), str(tree)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    prunes = removed = 0
    while proc.poll() is None:
        pruned = _prune(store)
        if pruned is None:  # not made yet
            time.sleep(0.01)
        else:
            prunes += 1
            removed += pruned.removed
    out, err = proc.communicate()
    assert proc.returncode == 0 and "warning" not in err, out + err
    assert pycs(tree) == cold
    assert prunes > 3 and removed > 0, (prunes, removed)
    assert_entries_valid(store)


def _prune(store: Path) -> cachedir.Pruned | None:
    try:
        return cachedir.prune(str(store), 0)
    except cachedir.CacheError:
        return None


def test_prune_removes_the_least_recently_used_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Entries last used long ago go first; a hit makes an entry recently used again; temp
    files of killed writers go after an hour, a live writer's stay."""
    tree = many_modules(tmp_path / "tree", 6)
    store = tmp_path / "cache"
    run(tree, cache=str(store))
    found = entries(store)
    assert len(found) == 6
    day = 86400
    for age, path in enumerate(found):  # found[0] used most recently, found[5] longest ago
        os.utime(path, (time.time() - (age + 1) * day,) * 2)
    # A compile that hits the two oldest makes them the most recently used.
    used = {found[4], found[5]}
    used_sources = []
    for path in sorted(tree.rglob("*.py")):
        digest = bytes.fromhex(_digest_of(path))
        if any(str(p).endswith(digest.hex()[2:] + ".0") for p in used):
            used_sources.append(path)
    assert len(used_sources) == 2
    subset = tmp_path / "subset"
    for source in used_sources:
        write(subset / source.name, source.read_text())
    [target] = run(subset, cache=str(store)).targets
    assert target.from_cache == 2
    keep = used | {found[0]}
    budget = sum(p.stat().st_size for p in keep)
    # Killed writers' temp files wherever a writer makes one: beside the entries, the
    # interpreter's identity, the run records and the tag.
    shard = found[0].parent
    for n, place in enumerate([shard, shard.parent, store / cache.LAYOUT, store / "runs", store]):
        old_temp = write(place / (cache.TEMP_PREFIX + f"host.{n}.dead"), "x")
        os.utime(old_temp, (time.time() - 2 * 3600,) * 2)
    live_temp = write(found[1].parent / (cache.TEMP_PREFIX + "host.9.live"), "x")
    live_beside_tag = write(store / (cache.TEMP_PREFIX + "host.9.live"), "x")
    code, out, err = cli(capsys, "cache", "info", str(store))
    assert "7 temp files" in out, out
    code, out, err = cli(capsys, "cache", "prune", str(store), "--max-size", str(budget))
    assert code == 0, err
    assert set(entries(store)) == keep
    assert "removed 3 entries" in out and "removed 5 temp files of killed compiles" in out
    assert temp_files(store) == sorted([live_temp, live_beside_tag])


def _digest_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_compile_prunes_after_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = many_modules(tmp_path / "tree", 6)
    store = tmp_path / "cache"
    code, out, err = cli(
        capsys, "compile", "--cache", str(store), "--cache-max-size", "0", str(tree)
    )
    assert code == 0, err
    assert "compile cache: pruned 6 entries" in out and "0 entries (0 B) left" in out
    assert entries(store) == []
    code, report = cli_json(
        capsys, "compile", "--cache", str(store), "--cache-max-size", "1G", "-f", str(tree)
    )
    assert report["cache"]["pruned"]["removed"] == 0 and report["cache"]["pruned"]["entries"] == 6


# --- what the cache says about itself ----------------------------------------------------


def test_info_by_interpreter_and_last_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = make_tree(tmp_path / "tree")
    store = tmp_path / "cache"
    others = [exe for v, exe in INTERPRETERS.items() if v in ("3.12", "pypy3")]
    pythons = [a for exe in [sys.executable, *others] for a in ("--python", exe)]
    assert cli(capsys, "compile", "--cache", str(store), *pythons, str(tree))[0] == 0
    assert cli(capsys, "compile", "--cache", str(store), "-f", str(tree))[0] == 0
    code, report = cli_json(capsys, "cache", "info", str(store))
    assert code == 0
    assert report["entries"] == 6 * (1 + len(others)) == len(entries(store))
    assert report["size"] == sum(p.stat().st_size for p in entries(store))
    assert len(report["interpreters"]) == 1 + len(others)
    assert {p["identity"]["implementation"] for p in report["interpreters"]} >= {"cpython"}
    last, first = report["runs"][:2]
    assert [t["from_cache"] for t in last["targets"]] == [6]
    assert [t["compiled"] for t in first["targets"]] == [6] * (1 + len(others))
    code, out, err = cli(capsys, "cache", "info", str(store))
    assert code == 0 and f"{report['entries']} entries" in out
    assert "6 from the cache, 0 compiled" in out
    os.environ["PYCACHE_TOOL_CACHE"] = str(store)
    try:
        assert cli(capsys, "cache", "info")[0] == 0
    finally:
        del os.environ["PYCACHE_TOOL_CACHE"]


def test_dry_run_says_what_would_be_a_hit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before any compile the cache is not even made; after one, a copy elsewhere would take
    every cache from it, except those whose entry is damaged; a dry run changes nothing."""
    tree = make_tree(tmp_path / "tree")
    store = tmp_path / "cache"
    code, out, err = cli(capsys, "compile", "-n", "--cache", str(store), str(tree))
    assert code == 0 and "would write 6 of 6 caches (level 0, timestamp): 0 from the" in out
    assert not store.exists()
    run(tree, cache=str(store))
    copy = tmp_path / "copy"
    copy_fresh_mtimes(tree, copy)
    remove_pycs(copy)
    path = entries(store)[0]
    _damage(path, "flip body", path)
    before = {p: (p.read_bytes(), p.stat().st_mtime) for p in store.rglob("*") if p.is_file()}
    code, out, err = cli(capsys, "compile", "-n", "--cache", str(store), str(copy))
    assert code == 0, err
    assert (
        "would write 6 of 6 caches (level 0, timestamp): 5 from the compile cache, 1 compiled"
        in out
    )
    assert out.count("; in the compile cache") == 5
    code, report = cli_json(capsys, "compile", "-n", "--cache", str(store), str(copy))
    assert sum(p["cached"] for p in report["planned"]) == 5
    after = {p: (p.read_bytes(), p.stat().st_mtime) for p in store.rglob("*") if p.is_file()}
    assert after == before
    assert pycs(copy) == {}


# --- options and bad input -----------------------------------------------------------------


def test_the_flag_the_environment_and_no_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_tree(tmp_path / "tree")
    from_env, from_flag = tmp_path / "env", tmp_path / "flag"
    monkeypatch.setenv("PYCACHE_TOOL_CACHE", str(from_env))
    assert cli(capsys, "compile", str(tree))[0] == 0
    assert len(entries(from_env)) == 6
    code, out, err = cli(capsys, "compile", "-f", "--cache", str(from_flag), str(tree))
    assert code == 0 and len(entries(from_flag)) == 6 and "0 from the compile cache" in out
    code, out, err = cli(capsys, "compile", "-f", "--no-cache", str(tree))
    assert code == 0 and "compiled 6 of 6 caches" in out and "compile cache" not in out
    code, report = cli_json(capsys, "compile", "-f", str(tree))
    assert report["cache"]["directory"] == str(from_env) and report["cache"]["used"]
    assert report["summary"]["from_cache"] == 6
    monkeypatch.setenv("PYCACHE_TOOL_CACHE", "")
    code, report = cli_json(capsys, "compile", "-f", str(tree))
    assert report["cache"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["compile", "--cache", "C", "--no-cache"], "--cache and --no-cache exclude each other"),
        (["compile", "--cache", ""], "--cache needs a directory"),
        (["compile", "--cache-max-size", "1G"], "--cache-max-size needs a cache"),
        (["compile", "--cache", "C", "--cache-max-size", "12Q"], "not a size: '12Q'"),
        (["cache", "info"], "name the cache directory, or set PYCACHE_TOOL_CACHE"),
        (["cache", "info", "missing"], "no such cache directory"),
        (["cache", "info", "."], "is not a pycache-tool cache"),
        (["cache", "prune", "C"], "cache prune needs --max-size SIZE"),
        (["cache", "prune", "C", "--max-size", "lots"], "not a size: 'lots'"),
    ],
)
def test_usage_errors(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "notes.txt", "not a cache\n")
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("kind", ["file", "foreign directory"])
def test_a_cache_that_cannot_be_used_is_said_once(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cache path that is a file, or a directory that holds other things: one warning on
    stderr, the compile goes on without it and writes the same bytes, nothing is written in
    it."""
    tree = many_modules(tmp_path / "tree", 8)
    run(tree)
    cold = pycs(tree)
    remove_pycs(tree)
    store = tmp_path / "cache"
    if kind == "file":
        write(store, "a file\n")
        reason = "not a directory"
    else:
        write(store / "thesis.tex", "mine\n")
        reason = "not empty, and not a pycache-tool cache"
    before = sorted(store.rglob("*"))
    code, out, err = cli(capsys, "compile", "-j", "2", "--cache", str(store), str(tree))
    assert code == 0, err
    assert (
        err
        == f"pycache-tool: warning: compile cache {store}: {reason}"
        + (" (it has no CACHEDIR.TAG of ours)" if kind != "file" else "")
        + "; compiling without it\n"
    )
    assert pycs(tree) == cold
    assert sorted(store.rglob("*")) == before
    code, report = cli_json(capsys, "compile", "-f", "--cache", str(store), str(tree))
    assert report["cache"]["used"] is False and reason in report["cache"]["warning"]


def _in_private_mount(tmp: Path, setup: str, *commands: list[str]) -> list[tuple[int, str, str]]:
    from .test_reliability import in_private_mount

    return in_private_mount(tmp, setup, *commands)


CHECK_ENTRIES = """\
import sys
sys.path.insert(0, sys.argv[1])
from pycache_tool.compile import cache
from pathlib import Path
root = Path(sys.argv[2])
count = 0
for path in sorted((root / cache.LAYOUT).glob("*/??/*")):
    name = path.parent.parent.name
    digest = bytes.fromhex(path.parent.name + path.name.split(".")[0])
    cache.decode(path.read_bytes(), cache.entry_key(name, int(path.name.split(".")[1]), digest))
    count += 1
temps = list(root.rglob(cache.TEMP_PREFIX + "*"))
print(count, len(temps))
"""


@pytest.mark.parametrize(
    ("modules", "jobs", "size"),
    [(60, 2, "96k"), (1, 1, "16k"), (3, 4, "16k")],
    ids=["many", "one module", "more workers than modules"],
)
def test_a_full_cache_disk_is_said_once(modules: int, jobs: int, size: str, tmp_path: Path) -> None:
    """The cache on a tmpfs too small for it: the run exits 0 with every pyc right, says once
    that the cache is full, and what the cache holds is whole, with no temp file left. Also
    when only a worker's last entry does not fit (one module, or fewer than the workers)."""
    if modules < 10:  # each entry bigger than what the disk has left after the cache's own files
        for n in range(modules):
            numbers = ", ".join(str(i * 7919 + n) for i in range(3000))
            write(tmp_path / "tree" / f"big{n}.py", f"NUMBERS = [{numbers}]\n")
        tree = tmp_path / "tree"
    else:
        tree = many_modules(tmp_path / "tree", modules)
    run(tree)
    cold = pycs(tree)
    remove_pycs(tree)
    disk = tmp_path / "disk"
    disk.mkdir()
    store = disk / "cache"
    project = str(Path(__file__).resolve().parents[1])
    compiled, checked = _in_private_mount(
        tmp_path,
        f"mount -t tmpfs -o size={size} tmpfs '{disk}'",
        [*TOOL, "compile", "-j", str(jobs), "--cache", str(store), str(tree)],
        [sys.executable, "-B", "-c", CHECK_ENTRIES, project, str(store)],
    )
    code, out, err = compiled
    assert code == 0, out + err
    assert err.count("\n") == 1 and "No space left on device" in err, err
    assert err.startswith(f"pycache-tool: warning: compile cache {store}: ")
    assert pycs(tree) == cold
    code, out, err = checked
    valid, temps = map(int, out.split())
    assert code == 0 and valid < modules and temps == 0, out + err
    assert valid > 0 or modules < 10


def test_a_directory_in_an_entrys_place_is_no_failure_of_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry's name taken by a directory: that source is compiled every time (the entry
    cannot be stored), and the cache goes on serving every other source, with no warning."""
    root = make_tree(tmp_path / "proj")
    store = tmp_path / "cache"
    assert cli(capsys, "compile", "--cache", str(store), str(root))[0] == 0
    taken = entries(store)[0]
    taken.unlink()
    write(taken / "inside", "not an entry\n")
    for _ in range(2):
        code, report = cli_json(capsys, "compile", "-f", "--cache", str(store), str(root))
        assert code == 0 and report["cache"]["used"] is True and not report["cache"]["warning"]
        assert report["targets"][0]["from_cache"] == 5
    assert (taken / "inside").read_text() == "not an entry\n"
    assert len(entries(store)) == 5 and temp_files(store) == []


def test_an_entry_gone_stale_on_nfs_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On NFS, reading an entry that another machine replaced or pruned meanwhile fails with
    ESTALE: that is a miss (compiled, and the entry written again), and the cache stays in
    use; any other error ends its use, said once."""
    store = tmp_path / "cache"
    cachedir.prepare(str(store))
    session = cache.Session(str(store))
    errors = [errno.ESTALE, errno.EIO]

    def failing(*args: object, **kwargs: object) -> None:
        code = errors.pop(0)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(session.store, "get", failing)
    assert session.get(b"\0" * 32, 0) == (None, "miss")
    assert session.failure() is None
    assert session.get(b"\0" * 32, 0) == (None, None)
    assert session.failure() == os.strerror(errno.EIO)
    assert session.get(b"\0" * 32, 0) == (None, None) and not errors  # no longer asked
    session.close()


@pytest.mark.parametrize("where", ["runs", "v1", "shard"])
def test_no_symlink_in_the_cache_is_followed(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever can write to a cache can put a symlink in it: compile, prune and info never
    read, write or remove anything through one. A symlinked directory of entries is a cache
    that cannot be used (said once); the compile goes on and writes the right pycs."""
    tree = many_modules(tmp_path / "tree", 8)
    run(tree)
    cold = pycs(tree)
    remove_pycs(tree)
    store = tmp_path / "cache"
    run(tree, cache=str(store))
    remove_pycs(tree)
    victim = tmp_path / "victim"
    old = time.time() - 7200
    for name in [*(f"{n:02d}.json" for n in range(30)), f"{'0' * 62}.0", ".tmp.old"]:
        for place in (victim, victim / "x" / "00"):
            write(place / name, "{}", mtime=old)
    victim_files = sorted(victim.rglob("*"))
    [interp] = (store / cache.LAYOUT).iterdir()
    shard = sorted(p for p in interp.iterdir() if p.is_dir())[0]
    link = {"runs": store / "runs", "v1": store / cache.LAYOUT, "shard": shard}[where]
    shutil.move(str(link), str(tmp_path / "moved"))
    link.symlink_to(victim, target_is_directory=True)

    code, out, err = cli(capsys, "compile", "-j", "2", "--cache", str(store), str(tree))
    assert code == 0, err
    assert pycs(tree) == cold
    if where == "runs":
        assert err == ""
    else:
        assert err == (
            f"pycache-tool: warning: compile cache {store}: a symlink or a file where the cache"
            " keeps a directory (never followed); compiling without it\n"
        )
    code, out, err = cli(capsys, "cache", "prune", str(store), "--max-size", "0")
    assert code == 0, err
    code, out, err = cli(capsys, "cache", "info", str(store))
    assert code == 0, err
    assert sorted(victim.rglob("*")) == victim_files
    assert all(p.read_text() == "{}" for p in victim.rglob("*") if p.is_file())


def test_a_read_only_cache_is_said_once(tmp_path: Path) -> None:
    tree = many_modules(tmp_path / "tree", 8)
    store = tmp_path / "cache"
    run(tree, cache=str(store))
    cold = pycs(tree)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    (compiled,) = _in_private_mount(
        tmp_path,
        f"mount --bind '{store}' '{store}' && mount -o remount,ro,bind '{store}'",
        [*TOOL, "compile", "-f", "--cache", str(store), str(tree)],
    )
    code, out, err = compiled
    assert code == 0, out + err
    assert err == (
        f"pycache-tool: warning: compile cache {store}: cannot write: Read-only file system;"
        " compiling without it\n"
    )
    assert pycs(tree) == cold
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
