"""Concurrency and faults, with the real command line in subprocesses and real interpreters.

- compile, clean, audit and imports with bytecode writing on, all at once on one tree, and
  the races that meets by chance, forced at the worst moment;
- SIGKILL of compile and clean at random moments, many times;
- Ctrl-C (SIGINT to the process group, as a terminal sends it) in the middle of every command;
- a full disk (a small tmpfs) and a read-only tree (a read-only bind mount).

After each: no source changed, no other file removed, only documented exit codes and no
traceback, and every cache file left is whole: its own interpreter unmarshals it.

``PYCACHE_TOOL_STRESS_SECONDS`` (default 20) bounds the concurrency test and
``PYCACHE_TOOL_KILLS`` (default 20) counts the SIGKILLs; ``make stress`` raises both, and
runs everything beside ``PYCACHE_TOOL_BUSY`` busy neighbours (``conftest.busy_neighbours``).
``PYCACHE_TOOL_SEED`` picks other kill moments (the default seed repeats the same ones).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from pycache_tool import Status, scan

from .cleantrees import TAG, compile_here
from .conftest import BUSY, INTERPRETERS, write

pytestmark = pytest.mark.reliability

STRESS_SECONDS = float(os.environ.get("PYCACHE_TOOL_STRESS_SECONDS", "20"))
KILLS = int(os.environ.get("PYCACHE_TOOL_KILLS", "20"))
TOOL = [sys.executable, "-m", "pycache_tool"]
# Two other interpreters that import from, and are compiled for, the same tree (those present
# that are not the version running the suite).
_RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"
_OTHER_VERSIONS = [v for v in ("3.11", "3.12", "3.13") if v in INTERPRETERS and v != _RUNNING]
OTHERS = [INTERPRETERS[v] for v in _OTHER_VERSIONS[:2]]
CACHE_NAME = re.compile(r"\.py[co](\.\d+)?\Z")  # a cache file or a write's temp file
DEBRIS = re.compile(r"\.pyc\.\d+\Z")
INTERRUPTED = "pycache-tool: interrupted\n"
TERMINATED = "pycache-tool: terminated\n"

needs_proc = pytest.mark.skipif(
    not os.path.isdir("/proc/self"), reason="needs /proc to find the processes of a run"
)

# Every cache file of the running interpreter's tag under a root must be one it loads (its
# magic, whole marshal data). Run in-process for this interpreter, as a script for others.
CHECK_CACHES = """\
import importlib.util, json, marshal, os, sys

def broken(root):
    tag, magic = sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER
    bad = []
    for top, dirs, files in os.walk(root):
        for name in files:
            if name.endswith('.pyc') and '.' + tag + '.' in name:
                path = os.path.join(top, name)
                with open(path, 'rb') as f:
                    data = f.read()
                try:
                    if data[:4] != magic or len(data) < 16:
                        raise ValueError('bad header')
                    marshal.loads(data[16:])
                except Exception as exc:
                    bad.append('%s: %s: %s' % (path, type(exc).__name__, exc))
    return bad

if __name__ == '__main__':
    print(json.dumps(broken(sys.argv[1])))
"""
_CHECKER: dict[str, Any] = {"__name__": "checker"}
exec(CHECK_CACHES, _CHECKER)

# Imports every module named in a file and checks it is the module its source defines.
IMPORT_ALL = """\
import importlib, sys
sys.path.insert(0, sys.argv[1])
for name in open(sys.argv[2]).read().split():
    module = importlib.import_module(name)
    assert module.NAME == name, (name, module.NAME, module.__cached__)
"""


# --- trees, snapshots, processes -----------------------------------------------------------


def make_tree(root: Path, modules: int, functions: int = 3) -> list[str]:
    """``modules`` small modules in ten packages, plus files that are no caches (one inside a
    ``__pycache__``); returns the module names."""
    names = []
    for n in range(modules):
        pkg = f"pkg{n % 10}"
        body = "".join(
            f"def f{i}(a, b=({n}, {i})):\n    '''Doc {i}.'''\n    return [a, b, {{'k{i}': a}}]\n"
            for i in range(functions)
        )
        write(root / pkg / f"m{n}.py", f"NAME = '{pkg}.m{n}'\n{body}")
        names.append(f"{pkg}.m{n}")
    for k in range(10):
        write(root / f"pkg{k}" / "__init__.py", f"NAME = 'pkg{k}'\n")
        names.append(f"pkg{k}")
    write(root / "README.txt", "not code\n")
    write(root / "data" / "table.csv", "a,b\n1,2\n")
    write(root / "pkg1" / "__pycache__" / "NOTES", "a file clean does not own\n")
    return names


def user_files(root: Path) -> dict[str, bytes]:
    """Every file that is not a cache file (sources above all), with its bytes."""
    found = {}
    for top, _, files in os.walk(root):
        for name in files:
            if not CACHE_NAME.search(name):
                path = os.path.join(top, name)
                with open(path, "rb") as f:
                    found[os.path.relpath(path, root)] = f.read()
    return found


def caches(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if CACHE_NAME.search(p.name)]


def broken_caches(root: Path, exe: str = sys.executable) -> list[str]:
    """The cache files of ``exe``'s tag under ``root`` that ``exe`` cannot load."""
    if exe == sys.executable:
        here: list[str] = _CHECKER["broken"](str(root))
        return here
    done = subprocess.run(
        [exe, "-B", "-c", CHECK_CACHES, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: list[str] = json.loads(done.stdout)
    return result


def all_broken(root: Path) -> list[str]:
    return [bad for exe in [sys.executable, *OTHERS] for bad in broken_caches(root, exe)]


def import_env() -> dict[str, str]:
    """An interpreter that writes bytecode, as a user's would."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def tool(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TOOL, *args], capture_output=True, text=True, timeout=timeout)


def audit_json(root: Path) -> dict[str, Any]:
    done = tool("audit", "--format", "json", str(root))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def bad_records(report: dict[str, Any], allow_debris: bool = False) -> list[dict[str, Any]]:
    """Records of cache files that cannot be loaded (temp files of a killed writer aside)."""
    return [
        r
        for r in report["records"]
        if r["status"] in ("corrupt", "unknown", "unreadable")
        and not (allow_debris and DEBRIS.search(r["path"]))
    ]


class Launched(NamedTuple):
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path


def launch(tmp: Path, *args: str, cwd: Path | None = None) -> Launched:
    """The tool in a session of its own (so its workers can be found, and signalled as a
    terminal signals a foreground job); output goes to files, which never fill up."""
    stamp = time.monotonic_ns()
    out, err = tmp / f"out.{stamp}", tmp / f"err.{stamp}"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen([*TOOL, *args], stdout=o, stderr=e, cwd=cwd, start_new_session=True)
    _LAUNCHED.append(Launched(proc, out, err))
    return _LAUNCHED[-1]


_LAUNCHED: list[Launched] = []


class Process(NamedTuple):
    pid: int
    ppid: int
    session: int
    cmdline: str


def processes() -> list[Process]:
    """Every live process (zombies aside), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z":
            found.append(Process(int(entry), int(fields[1]), int(fields[3]), cmdline))
    return found


def session_alive(sid: int) -> list[int]:
    """Processes of a session: the tool and the workers it started."""
    return [p.pid for p in processes() if p.session == sid]


def children(pid: int) -> list[Process]:
    return [p for p in processes() if p.ppid == pid]


def wait_gone(pids: list[int], limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while {p.pid for p in processes()} & set(pids):
        assert time.monotonic() < deadline, f"processes {pids} still running"
        time.sleep(0.01)


def wait_session(sid: int, limit: float = 30) -> None:
    """Orphaned workers finish the file in hand, then see their pipes close and exit."""
    wait_gone(session_alive(sid), limit)


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    """A failed test leaves no tool (or anything it started) running."""
    yield
    for run in _LAUNCHED:
        with contextlib.suppress(OSError):
            os.killpg(run.proc.pid, signal.SIGKILL)
        run.proc.wait()
    _LAUNCHED.clear()


def wait_for(condition: Callable[[], bool], what: str, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


# --- concurrency ---------------------------------------------------------------------------


class Outcome(NamedTuple):
    argv: list[str]
    code: int
    stderr: str


def test_concurrent_compile_clean_audit_and_imports(tmp_path: Path) -> None:
    """compile (three modes, several targets, --force), clean (everything, by category,
    foreign), audit (every format and check) and real imports with bytecode writing on, all at
    once on one tree until the deadline. Every command exits with a documented code and no
    traceback; afterwards no source changed and every cache file left loads."""
    root = tmp_path / "proj"
    names = make_tree(root, 300)
    names_file = tmp_path / "names.txt"
    names_file.write_text("\n".join(names))
    before = user_files(root)
    here = str(root)
    pythons = [a for exe in OTHERS for a in ("--python", exe)]
    modes = ["timestamp", "checked-hash", "unchecked-hash"]
    # Each worker: the argument lists it cycles through, and the exit codes each may give.
    commands: list[list[tuple[list[str], set[int]]]] = [
        [
            (
                ["compile", "-j", "2", "--invalidation-mode", m, "--python", sys.executable, here],
                {0},
            )
            for m in modes
        ],
        [
            (["compile", "-j", "2", *pythons, "--invalidation-mode", m, *force, here], {0})
            for m in modes
            for force in ([], ["--force"])
        ],
        [(["clean", here], {0}), (["clean", "--stale", "--orphans", "--corrupt", here], {0})],
        [
            (["clean", "--foreign", "--python", sys.executable, here], {0}),
            (["clean", "--dry-run", "--format", "json", here], {0}),
        ],
        [
            (["audit", "--format", "json", here], {0}),
            (["audit", "--check", here], {0, 1}),
            (["audit", "--require-fresh", "--python", sys.executable, here], {0, 1}),
            (["audit", "-v", here], {0}),
        ],
    ]
    deadline = time.monotonic() + STRESS_SECONDS
    outcomes: list[Outcome] = []
    unexpected: list[str] = []
    lock = threading.Lock()

    def run_tool(cycle: list[tuple[list[str], set[int]]]) -> None:
        turn = 0
        while time.monotonic() < deadline:
            args, allowed = cycle[turn % len(cycle)]
            turn += 1
            done = tool(*args)
            with lock:
                outcomes.append(Outcome(args, done.returncode, done.stderr))
                if done.returncode not in allowed or "Traceback" in done.stderr:
                    unexpected.append(f"{args} -> {done.returncode}\n{done.stderr}{done.stdout}")

    def run_imports(exe: str) -> None:
        while time.monotonic() < deadline:
            done = subprocess.run(
                [exe, "-c", IMPORT_ALL, here, str(names_file)],
                capture_output=True,
                text=True,
                env=import_env(),
                timeout=120,
            )
            with lock:
                outcomes.append(Outcome([exe, "import"], done.returncode, done.stderr))
                if done.returncode != 0 or done.stderr:
                    unexpected.append(f"import with {exe} -> {done.returncode}\n{done.stderr}")

    threads = [threading.Thread(target=run_tool, args=(c,)) for c in commands]
    threads += [threading.Thread(target=run_imports, args=(e,)) for e in [sys.executable, *OTHERS]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not unexpected, "\n".join(unexpected[:10])
    ran = {o.argv[0] if o.argv[-1] != "import" else "import" for o in outcomes}
    assert ran == {"compile", "clean", "audit", "import"}, ran
    assert user_files(root) == before
    report = audit_json(root)
    assert bad_records(report) == []
    assert all_broken(root) == []
    # The tree works as a whole afterwards: one compile gives every target full coverage.
    done = tool("compile", "--python", sys.executable, *pythons, here)
    assert done.returncode == 0, done.stdout + done.stderr
    check = tool("audit", "--require-fresh", "--python", sys.executable, *pythons, here)
    assert check.returncode == 0, check.stdout


# What a clean running beside compile can do to a write, done at the worst moment, once per
# cache file: remove the empty __pycache__ just made for it ("fresh_dir"), hold the temp name
# (another writer's temp file, "taken"), remove the temp file before the rename ("raced"), or
# remove the old cache as the worker looks at it ("between"). The worker writes by name
# inside a directory descriptor: /proc/self/fd tells which directory that is.
RACING_CLEAN = """\
import os, posix, re
_open, _replace, _stat = posix.open, posix.replace, posix.stat
_done = set()
TEMP = re.compile(r'\\.pyc\\.\\d+$')

def _first(kind, path):
    key = (kind, TEMP.sub('', path))
    if key in _done:
        return False
    _done.add(key)
    return True

def _full(path, dir_fd):
    if dir_fd is None or not isinstance(path, str):
        return path
    return os.path.join(os.readlink('/proc/self/fd/%d' % dir_fd), path)

def racing_open(path, flags, mode=0o777, *, dir_fd=None):
    full = _full(path, dir_fd)
    if isinstance(full, str) and TEMP.search(full) and flags & os.O_EXCL:
        if '/fresh_dir/' in full and _first('dir', full):
            os.rmdir(os.path.dirname(full))
        if full.split('/')[-1].startswith('taken.') and _first('taken', full):
            posix.close(_open(full, os.O_CREAT | os.O_WRONLY, 0o644))
    return _open(path, flags, mode, dir_fd=dir_fd)

def racing_replace(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
    full = _full(src, src_dir_fd)
    if isinstance(full, str) and '/raced.' in full and _first('raced', full):
        posix.unlink(full)
    return _replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

def racing_stat(path, *, dir_fd=None, follow_symlinks=True):
    full = _full(path, dir_fd)
    if isinstance(full, str) and '/between.' in full and full.endswith('.pyc'):
        if _first('between', full):
            posix.unlink(full)
    return _stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)

posix.open = os.open = racing_open
posix.replace = os.replace = racing_replace
posix.stat = os.stat = racing_stat
"""


def test_compile_outlasts_a_clean_racing_its_writes(tmp_path: Path) -> None:
    """The races the concurrency test meets by chance, made certain: compile writes again
    (a few times at most) when its __pycache__ or its temp file is removed under it, or its
    temp name is taken, instead of failing; another writer's temp file is left alone."""
    root = tmp_path / "proj"
    for rel in ("fresh_dir/mod.py", "taken.py", "raced.py", "between.py", "plain.py"):
        write(root / rel, f"NAME = {rel!r}\n")
    compile_here(root / "between.py")
    write(root / "between.py", "NAME = 'between, edited'\n")  # its cache is stale now
    write(tmp_path / "hooks" / "sitecustomize.py", RACING_CLEAN)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "hooks")}
    done = subprocess.run(
        [*TOOL, "compile", "-j", "1", str(root)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "compiled 5 of 5" in done.stdout
    assert tool("audit", "--require-fresh", str(root)).returncode == 0
    [held] = debris(root)  # the other writer's temp file: still there, still empty
    assert held.name.startswith(f"taken.{TAG}.pyc.") and held.read_bytes() == b""
    assert broken_caches(root) == []


def _swap_for_links(stop: threading.Event, root: Path, outside: Path, swaps: list[int]) -> None:
    """Until ``stop``: each package directory and each ``__pycache__`` in turn is moved aside,
    a symlink to a directory outside the tree takes its name for a moment, and it comes back."""
    turn = 0
    while not stop.is_set():
        k = turn % 10
        pkg = root / f"pkg{k}"
        for path, target in (
            (pkg / "__pycache__", outside / f"cache{k}"),
            (pkg, outside / f"pkg{k}"),
        ):
            aside = path.with_name(path.name + ".aside")
            try:
                os.rename(path, aside)
            except OSError:
                continue
            with contextlib.suppress(OSError):
                os.symlink(target, path)
                time.sleep(0.001)
            _put_back(aside, path)
            swaps[0] += 1
        turn += 1


def _put_back(aside: Path, path: Path) -> None:
    """The real directory returns to its name; whatever compile made there meanwhile (a new
    ``__pycache__`` and its caches) joins it."""
    while True:
        if path.is_symlink():
            path.unlink()
        if not os.path.lexists(path):
            with contextlib.suppress(FileExistsError, OSError):
                os.rename(aside, path)
                return
            continue
        for entry in path.iterdir():
            with contextlib.suppress(OSError):
                os.replace(entry, aside / entry.name)
        with contextlib.suppress(OSError):
            path.rmdir()


def test_compile_never_writes_through_links_swapped_in(tmp_path: Path) -> None:
    """While compile runs (again and again, --force), package directories and their
    ``__pycache__`` are swapped for symlinks to directories outside the tree and back. No cache,
    temp file or directory ever appears outside: every write is made inside a directory opened
    from the root without following a link. Runs exit 0 or 3 (a source that was away), never
    with a traceback, and the tree compiles fully once the swapping ends."""
    root, outside = tmp_path / "proj", tmp_path / "outside"
    make_tree(root, 200)
    user = user_files(root)
    for k in range(10):
        (outside / f"cache{k}").mkdir(parents=True)
        (outside / f"pkg{k}").mkdir()
    before = sorted(outside.rglob("*"))
    stop, swaps = threading.Event(), [0]
    swapper = threading.Thread(target=_swap_for_links, args=(stop, root, outside, swaps))
    swapper.start()
    runs: list[subprocess.CompletedProcess[str]] = []
    deadline = time.monotonic() + STRESS_SECONDS / 4
    try:
        while time.monotonic() < deadline or len(runs) < 3:
            runs.append(tool("compile", "-j", "2", "--force", str(root)))
    finally:
        stop.set()
        swapper.join()
    leaked = sorted(outside.rglob("*"))
    assert leaked == before, f"written outside: {sorted(set(leaked) - set(before))[:5]}"
    assert swaps[0] > 0
    bad = [r for r in runs if r.returncode not in (0, 3) or "Traceback" in r.stderr]
    assert not bad, bad[0].stdout + bad[0].stderr
    assert user_files(root) == user
    done = tool("compile", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert tool("audit", "--require-fresh", str(root)).returncode == 0


# --- SIGKILL -------------------------------------------------------------------------------


def kill_when(tmp: Path, args: list[str], ready: Callable[[], bool], whole_group: bool) -> bool:
    """Run the tool and SIGKILL it as soon as ``ready()`` (the tool alone, or with its
    workers); wait until every process of the run is gone. True if it was killed before the
    end."""
    run = launch(tmp, *args)
    while run.proc.poll() is None and not ready():
        time.sleep(0.0005)
    if whole_group:
        with contextlib.suppress(ProcessLookupError):  # all of it has ended already
            os.killpg(run.proc.pid, signal.SIGKILL)
    else:
        run.proc.kill()
    code = run.proc.wait()
    wait_session(run.proc.pid)
    assert code in (0, -signal.SIGKILL), run.err.read_text()
    return code == -signal.SIGKILL


def removed(directories: list[Path], goal: int) -> Callable[[], bool]:
    """True once ``goal`` cache files in ``directories`` are gone."""
    start = len(cache_inodes(directories))
    return lambda: len(cache_inodes(directories)) <= start - goal


def rewritten(directories: list[Path], goal: int) -> Callable[[], bool]:
    """True once ``goal`` cache files in ``directories`` are new (renamed into place)."""
    start = cache_inodes(directories)
    return lambda: len(cache_inodes(directories).items() - start.items()) >= goal


def cache_inodes(directories: list[Path]) -> dict[str, int]:
    """Cache file -> inode, from the directory entries alone: cheap enough to poll. A cache
    that py_compile rewrote (a rename) has a new inode."""
    return {path: ino for directory in directories for path, ino in _listing(directory)}


def _listing(directory: Path) -> list[tuple[str, int]]:
    try:
        with os.scandir(directory) as it:
            return [(e.path, e.inode()) for e in it if e.name.endswith(".pyc")]
    except FileNotFoundError:
        return []


def debris(root: Path) -> set[Path]:
    return {p for p in caches(root) if DEBRIS.search(p.name)}


def damage(root: Path, user: dict[str, bytes], debris_before: set[Path], group: bool) -> str:
    """What a kill broke, as text ("": nothing). Nothing, when no user file changed, every
    cache loads, and the scan calls nothing corrupt but a killed worker's temp file."""
    if user_files(root) != user:
        return "a user file changed"
    new_debris = debris(root) - debris_before
    if new_debris and not group:
        return f"temp files left by workers that were not killed: {sorted(new_debris)}"
    bad = [
        (r.path, r.reason)
        for r in scan([root])
        if r.status in (Status.CORRUPT, Status.UNKNOWN, Status.UNREADABLE)
        and not DEBRIS.search(r.path)
    ]
    if bad:
        return f"the scan finds broken caches: {bad}"
    broken = broken_caches(root)
    return f"caches that do not load: {broken}" if broken else ""


@needs_proc
def test_sigkill_compile_and_clean_at_random_moments(tmp_path: Path) -> None:
    """Kill after kill, compile (two workers, two levels, --force: every cache is replaced) or
    clean is SIGKILLed at a random moment of its run: the tool alone (its workers finish the
    file in hand) or its whole process group (workers die mid-write). After each kill no user
    file changed and every cache file loads; only a worker killed mid-write may leave its temp
    file, which audit reports as corrupt debris. Then a re-run of compile gives full coverage,
    and a re-run of clean removes every cache file, debris included."""
    root = tmp_path / "proj"
    sources = len(make_tree(root, 120, functions=8))  # and twice as many caches: -O 0, -O 2
    user = user_files(root)
    compile_args = ["compile", "-j", "2", "-O", "0", "-O", "2", "--force", str(root)]
    clean_args = ["clean", str(root)]
    assert tool(*compile_args).returncode == 0  # the first kill finds every cache in place
    rng = random.Random(os.environ.get("PYCACHE_TOOL_SEED", "reliability"))
    pycache_dirs = [root / f"pkg{k}" / "__pycache__" for k in range(10)]
    mid_run = {"compile": 0, "clean": 0}  # kills that landed while files were written or removed
    for turn in range(KILLS):
        group = turn % 4 >= 2
        before, debris_before = cache_inodes(pycache_dirs), debris(root)
        # A moment picked by progress, not time: most of a run's time is start-up and scan.
        if turn % 2 == 0:
            name, args = "compile", compile_args
            goal = rng.randint(1, 2 * sources - 1)
            moment, ready = f"after {goal} writes", rewritten(pycache_dirs, goal)
        else:
            name, args = "clean", clean_args
            total = len(cache_inodes(pycache_dirs))
            goal = rng.randint(1, max(1, total - 1))
            moment, ready = f"after {goal} of {total} removals", removed(pycache_dirs, goal)
        killed = kill_when(tmp_path, args, ready, group)
        after = cache_inodes(pycache_dirs)
        changed = sum(
            1 for path in before.keys() | after.keys() if before.get(path) != after.get(path)
        )
        mid_run[name] += killed and 0 < changed
        problem = damage(root, user, debris_before, group)
        assert not problem, f"kill {turn} ({name}, {moment}): {problem}"
    assert min(mid_run.values()) >= KILLS // 4, mid_run
    report = audit_json(root)
    assert bad_records(report, allow_debris=True) == []
    done = tool(*compile_args)
    assert done.returncode == 0, done.stdout + done.stderr
    check = tool("audit", "--require-fresh", str(root))
    assert check.returncode == 0, check.stdout
    assert f"{sources} of {sources} sources" in check.stdout, check.stdout
    dry = tool(*compile_args[:-2], "--dry-run", "--format", "json", str(root))
    [target] = json.loads(dry.stdout)["targets"]
    assert (target["sources"], target["fresh"], target["planned"]) == (2 * sources,) * 2 + (0,)
    done = tool(*clean_args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert caches(root) == [] and user_files(root) == user


# --- SIGINT --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def sigint_reaches_the_tool() -> Iterator[None]:
    """A suite started as a background job (``make stress &``) runs with SIGINT ignored, and
    an ignored signal stays ignored across exec: the tool would never see Ctrl-C. A handled
    one is reset to the default in the child, so handle it here while the test runs."""
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def interrupt(run: Launched) -> tuple[int, str]:
    """Ctrl-C: SIGINT to the whole foreground process group; the exit code and stderr."""
    os.killpg(run.proc.pid, signal.SIGINT)
    code = run.proc.wait(timeout=60)
    wait_session(run.proc.pid)
    return code, run.err.read_text()


def has_command(name: str) -> bool:
    done = tool("--help")
    return re.search(rf"^\s*{name}\b", done.stdout, re.MULTILINE) is not None


def orphans(root: Path, count: int) -> list[Path]:
    """``count`` caches whose source is gone, in ten ``__pycache__`` directories: work for
    audit and clean without compiling anything. Sorted as clean removes them."""
    source = write(root / "seed.py", "X = 1\n")
    data = compile_here(source).read_bytes()
    shutil.rmtree(root)
    made = [root / f"pkg{n % 10}" / "__pycache__" / f"gone{n}.{TAG}.pyc" for n in range(count)]
    for k in range(10):
        (root / f"pkg{k}" / "__pycache__").mkdir(parents=True)
    for path in made:
        path.write_bytes(data)
    return sorted(made)


@needs_proc
def test_sigint_mid_audit(tmp_path: Path) -> None:
    """Interrupted while it streams its JSON report."""
    root = tmp_path / "proj"
    orphans(root, 3000)
    run = launch(tmp_path, "audit", "--format", "json", str(root))
    wait_for(lambda: run.out.stat().st_size > 0 or run.proc.poll() is not None, "output")
    code, err = interrupt(run)
    assert (code, err) == (130, INTERRUPTED)
    with pytest.raises(ValueError):  # a report cut short, as it was when Ctrl-C came
        json.loads(run.out.read_text())


@needs_proc
def test_sigint_mid_clean(tmp_path: Path) -> None:
    """Interrupted while removing: it stops between two files; a re-run finishes the job."""
    root = tmp_path / "proj"
    made = orphans(root, 3000)
    write(root / "pkg0" / "keep.py", "K = 1\n")
    run = launch(tmp_path, "clean", str(root))
    wait_for(lambda: not made[0].exists() or run.proc.poll() is not None, "the first removal")
    code, err = interrupt(run)
    assert (code, err) == (130, INTERRUPTED)
    assert made[-1].exists(), "clean finished before it was interrupted"
    done = tool("clean", str(root))
    assert done.returncode == 0 and caches(root) == [] and (root / "pkg0" / "keep.py").exists()


def first_cache(root: Path) -> bool:
    return any(
        name.endswith(".pyc")
        for pkg in root.iterdir()
        if (pkg / "__pycache__").is_dir()
        for name in os.listdir(pkg / "__pycache__")
    )


@needs_proc
def test_sigint_mid_compile(tmp_path: Path) -> None:
    """Interrupted while its workers write: they finish the file in hand and stop; nothing is
    left half-written, and no temp file stays behind."""
    root = tmp_path / "proj"
    make_tree(root, 1000, functions=8)
    user = user_files(root)
    run = launch(tmp_path, "compile", "-j", "2", str(root))
    wait_for(lambda: first_cache(root) or run.proc.poll() is not None, "the first cache")
    code, err = interrupt(run)
    assert (code, err) == (130, INTERRUPTED)
    written = caches(root)
    assert 0 < len(written) < 1010, "compile was not interrupted mid-way"
    assert debris(root) == set() and broken_caches(root) == [] and user_files(root) == user


@needs_proc
def test_sigint_mid_importtime(tmp_path: Path) -> None:
    """Interrupted while the module it measures is being imported: the import (in a process
    of its own) is ended too."""
    if not has_command("importtime"):
        pytest.skip("there is no importtime command")
    write(tmp_path / "slowmod.py", "import time\ntime.sleep(60)\n")
    run = launch(tmp_path, "importtime", "slowmod", cwd=tmp_path)
    importing: list[Process] = []

    def started() -> bool:
        importing[:] = [p for p in children(run.proc.pid) if "import slowmod" in p.cmdline]
        return bool(importing) or run.proc.poll() is not None

    wait_for(started, "the import to start")
    time.sleep(0.2)  # into the import itself
    code, err = interrupt(run)
    assert (code, err) == (130, INTERRUPTED)
    wait_gone([p.pid for p in importing], limit=10)


@needs_proc
@pytest.mark.parametrize("command", ["audit", "clean", "compile", "doctor", "importtime"])
def test_sigint_while_asking_an_interpreter(tmp_path: Path, command: str) -> None:
    """Every command that takes --python asks that interpreter first; one that hangs is
    interrupted like anything else, and does not outlive the tool."""
    if not has_command(command):
        pytest.skip(f"there is no {command} command")
    slow = write(tmp_path / "slowpython", "#!/bin/sh\nexec sleep 60\n")
    slow.chmod(0o755)
    args = [command, "--python", str(slow)]
    args += ["json"] if command == "importtime" else [] if command == "doctor" else [str(tmp_path)]
    run = launch(tmp_path, *args)
    asked: list[Process] = []

    def started() -> bool:
        asked[:] = [p for p in children(run.proc.pid) if p.cmdline.startswith("sleep")]
        return bool(asked) or run.proc.poll() is not None

    wait_for(started, "the interpreter to start")
    code, err = interrupt(run)
    assert (code, err) == (130, INTERRUPTED)
    wait_gone([p.pid for p in asked], limit=10)


# --- SIGTERM, and a tool killed under its workers ----------------------------------------


@needs_proc
def test_sigterm_mid_compile(tmp_path: Path) -> None:
    """SIGTERM to the tool alone (a supervisor stopping it: docker stop, systemd, kill) is
    answered as Ctrl-C is: the workers finish the file in hand and stop, one line, exit 143;
    no worker outlives the tool, no temp file or partial cache is left behind."""
    root = tmp_path / "proj"
    make_tree(root, 1000, functions=8)
    user = user_files(root)
    run = launch(tmp_path, "compile", "-j", "2", str(root))
    wait_for(lambda: first_cache(root) or run.proc.poll() is not None, "the first cache")
    workers = [p.pid for p in children(run.proc.pid)]
    os.kill(run.proc.pid, signal.SIGTERM)
    code = run.proc.wait(timeout=60)
    assert (code, run.err.read_text()) == (143, TERMINATED)
    assert workers and not {p.pid for p in processes()} & set(workers), "a worker outlived it"
    assert 0 < len(caches(root)) < 1010, "compile was not stopped mid-way"
    assert debris(root) == set() and broken_caches(root) == [] and user_files(root) == user


@needs_proc
@pytest.mark.parametrize("command", ["audit", "compile"])
def test_sigterm_while_asking_an_interpreter(tmp_path: Path, command: str) -> None:
    """SIGTERM while the tool waits for a --python: 143, one line, the interpreter ended; a
    few times, since the signal may land while the interpreter's process is being started
    (where subprocess itself would lose it)."""
    slow = write(tmp_path / "slowpython", "#!/bin/sh\nexec sleep 60\n")
    slow.chmod(0o755)
    for _ in range(max(10, KILLS // 2)):
        run = launch(tmp_path, command, "--python", str(slow), str(tmp_path))
        asked: list[Process] = []

        def started(run: Launched = run, asked: list[Process] = asked) -> bool:
            asked[:] = [p for p in children(run.proc.pid) if p.cmdline.startswith("sleep")]
            return bool(asked) or run.proc.poll() is not None

        wait_for(started, "the interpreter to start")
        os.kill(run.proc.pid, signal.SIGTERM)
        assert (run.proc.wait(timeout=60), run.err.read_text()) == (143, TERMINATED)
        wait_gone([p.pid for p in asked], limit=10)


@needs_proc
def test_workers_of_a_killed_tool_stop_after_the_file_in_hand(tmp_path: Path) -> None:
    """SIGKILL of the tool alone: each worker finishes the file in hand (no temp file is left),
    notices that its parent is gone (its answer finds no reader) and exits: at most one more
    cache per worker appears after the kill, and then none."""
    root = tmp_path / "proj"
    make_tree(root, 1000, functions=8)
    pycache_dirs = [root / f"pkg{k}" / "__pycache__" for k in range(10)]
    run = launch(tmp_path, "compile", "-j", "2", str(root))
    wait_for(lambda: first_cache(root) or run.proc.poll() is not None, "the first cache")
    workers = [p.pid for p in children(run.proc.pid)]
    run.proc.kill()
    run.proc.wait()
    at_kill = cache_inodes(pycache_dirs)
    wait_gone(workers, limit=30)
    after = cache_inodes(pycache_dirs)
    assert len(workers) == 2 and len(after.keys() - at_kill.keys()) <= len(workers)
    assert len(after) < 1000, "compile was not killed mid-way"
    assert debris(root) == set() and broken_caches(root) == []


# --- full disk and read-only trees ---------------------------------------------------------


def in_private_mount(tmp: Path, setup: str, *commands: list[str]) -> list[tuple[int, str, str]]:
    """Run ``commands`` one after another in a private mount namespace (gone when they end)
    after the shell ``setup``; skip where that is not permitted. (exit code, stdout, stderr)
    of each."""
    unshare = shutil.which("unshare")
    if unshare is None or not (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("needs root and unshare(1) for a private mount")
    lines = [f"{setup} || exit 99"]
    for n, argv in enumerate(commands):
        quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)
        lines.append(f"{quoted} >'{tmp}/out{n}' 2>'{tmp}/err{n}'; echo $? >'{tmp}/code{n}'")
    argv = [unshare, "--mount", "--propagation", "private", "sh", "-c", "\n".join(lines)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if done.returncode == 99:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return [
        (
            int((tmp / f"code{n}").read_text()),
            (tmp / f"out{n}").read_text(),
            (tmp / f"err{n}").read_text(),
        )
        for n in range(len(commands))
    ]


def check_caches_command(root: Path, exe: str = sys.executable) -> list[str]:
    return [exe, "-B", "-c", CHECK_CACHES, str(root)]


def test_full_disk_while_compiling(tmp_path: Path) -> None:
    """A tmpfs too small for the caches: each file that did not fit is reported with the
    system's reason, the run exits 3, and every cache that was written is whole (old
    interpreters' py_compile did not check for short writes: gh-126606)."""
    seed = tmp_path / "seed"
    make_tree(seed, 40, functions=40)
    disk = tmp_path / "disk"
    disk.mkdir()
    root = disk / "proj"
    setup = f"mount -t tmpfs -o size=256k tmpfs '{disk}' && cp -a '{seed}' '{root}'"
    pythons = [a for exe in OTHERS for a in ("--python", exe)]
    compiled, audited, *checked = in_private_mount(
        tmp_path,
        setup,
        [*TOOL, "compile", "-j", "2", "--python", sys.executable, *pythons, str(root)],
        [*TOOL, "audit", "--format", "json", str(root)],
        *(check_caches_command(root, exe) for exe in [sys.executable, *OTHERS]),
    )
    code, out, err = compiled
    assert code == 3, out + err
    assert "Traceback" not in err
    assert "No space left on device" in out, out
    failed = [line for line in out.splitlines() if "No space left on device" in line]
    assert all(line.split(":", 1)[0].endswith(".py") for line in failed), failed
    assert audited[0] == 0, audited[2]
    report = json.loads(audited[1])
    assert bad_records(report) == []
    assert any(r["status"] == "fresh" for r in report["records"]), "nothing fitted at all"
    for code, out, err in checked:
        assert code == 0 and json.loads(out) == [], out + err


@pytest.fixture
def mixed_tree(tmp_path: Path) -> Path:
    """Fresh caches, stale and orphaned ones, and sources without a cache."""
    root = tmp_path / "proj"
    make_tree(root, 30)
    assert tool("compile", str(root)).returncode == 0
    for n in range(0, 30, 3):
        (root / f"pkg{n % 10}" / f"m{n}.py").unlink()  # orphans
    for n in range(1, 30, 3):
        source = root / f"pkg{n % 10}" / f"m{n}.py"
        os.utime(source, (1_600_000_000, 1_600_000_000))  # stale caches
    write(root / "late" / "new.py", "NAME = 'late.new'\n")  # no cache, no __pycache__
    return root


def test_read_only_tree(tmp_path: Path, mixed_tree: Path) -> None:
    """A read-only bind mount: audit reports as usual; clean and compile name every file they
    could not remove or write, exit 3, and nothing changes."""
    root = mixed_tree
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    setup = f"mount --bind '{root}' '{root}' && mount -o remount,ro,bind '{root}'"
    audited, checked, cleaned, compiled = in_private_mount(
        tmp_path,
        setup,
        [*TOOL, "audit", "--format", "json", str(root)],
        [*TOOL, "audit", "--check", str(root)],
        [*TOOL, "clean", "--stale", "--orphans", str(root)],
        [*TOOL, "compile", "--format", "json", str(root)],
    )
    assert audited[0] == 0, audited
    by_status = json.loads(audited[1])["summary"]["by_status"]
    assert {k: v["files"] for k, v in by_status.items()} == {"fresh": 20, "stale": 10, "orphan": 10}
    assert checked[0] == 1, checked
    code, out, err = cleaned
    assert code == 3 and "Traceback" not in err, out + err
    failed = [line for line in out.splitlines() if line.startswith("failed ")]
    assert len(failed) == 20 and all("Read-only file system" in f for f in failed), out
    code, out, err = compiled
    assert code == 3 and "Traceback" not in err, out + err
    errors = json.loads(out)["errors"]
    assert {e["kind"] for e in errors} == {"io"}
    assert all("Read-only file system" in e["message"] for e in errors), errors
    assert len(errors) == 10 + 1  # the stale ones and the one without a cache
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.skipif(not BUSY, reason="no busy neighbours asked for (make stress starts them)")
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to read CPU time")
def test_busy_neighbours_keep_the_cores_busy(busy_neighbours: list[Any]) -> None:
    """The stress run's premise: its busy neighbours are alive and burning CPU meanwhile."""

    def cpu_ticks(pid: int) -> int:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    assert len(busy_neighbours) == BUSY
    before = [cpu_ticks(loop.pid) for loop in busy_neighbours]
    time.sleep(1.0)
    assert all(loop.poll() is None for loop in busy_neighbours)
    assert all(cpu_ticks(loop.pid) > ticks for loop, ticks in zip(busy_neighbours, before))
