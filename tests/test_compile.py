"""`pycache-tool compile`: output that real interpreters load, modes, levels, reproducibility,
errors, dry runs, prefixes, dying workers and interrupted runs.

The proof that a cache is used is always the interpreter itself: ``python -v`` names the file
each module's code object came from, and says so when it compiles the source instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pycache_tool.bytecode import interpreters
from pycache_tool.cli import main
from pycache_tool.compile import pool
from pycache_tool.compile.plan import compile_trees
from pycache_tool.compile.results import Options

from .conftest import INTERPRETERS, cli, cli_json, interpreter_params, run_python, write

COMPILE_VERSIONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"]
FLAGS = {0: "timestamp", 1: "unchecked-hash", 3: "checked-hash"}

# Constants whose marshalled order depends on the hash seed before 3.11 (sets, frozensets).
MODULES = {
    "app/__init__.py": '"""The app."""\nfrom . import a\n',
    "app/a.py": '"""Module a."""\nWORDS = {"alpha", "beta", "gamma", "delta"}\n'
    "def f(x):\n    assert x\n    return x in {'one', 'two', 'three'}\n",
    "app/sub/__init__.py": "",
    "app/sub/b.py": "class B:\n    '''Doc.'''\n    K = frozenset({1.5, 'x', (1, 2)})\n",
    "app/c.py": "# -*- coding: utf-8 -*-\nNAME = 'caf\u00e9 \u2603'\n",
    "top.py": "import app.sub.b\nV = 1\n",
}
MODULE_NAMES = ["app", "app.a", "app.sub", "app.sub.b", "app.c", "top"]


def make_tree(root: Path) -> Path:
    for rel, text in MODULES.items():
        write(root / rel, text)
    return root


def compile_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return cli(capsys, "compile", *args)


def compile_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    return cli_json(capsys, "compile", *args)


def pycs(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.pyc")) if p.is_file()
    }


def flags_of(data: bytes) -> int:
    return int.from_bytes(data[4:8], "little")


def cache_tag(exe: str) -> str:
    tag = interpreters.query(exe).tag
    assert tag is not None
    return tag


def import_verbose(
    exe: str, root: Path, names: list[str], flags: list[str] | None = None, **env: str
) -> str:
    """Import every module with ``-v``, bytecode writing on; returns the -v trace."""
    code = "import " + ", ".join(names)
    done = run_python(
        exe, code, cwd=root, env={"PYTHONDONTWRITEBYTECODE": "", **env}, args=[*(flags or []), "-v"]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def assert_all_from_pyc(trace: str, root: Path, tag: str, opt: str = "") -> None:
    """Every module's code came from its own cache file; nothing was compiled or written."""
    for rel in MODULES:
        source = root / rel
        cache = source.parent / "__pycache__" / f"{source.stem}.{tag}{opt}.pyc"
        assert f"# code object from '{cache}'" in trace, f"{rel} not loaded from {cache.name}"
        assert f"# code object from {source}\n" not in trace, f"{rel} was compiled from source"
    for bad in ("# wrote ", "# could not create", "bytecode is stale"):
        assert bad not in trace, trace


def copy_fresh_mtimes(src: Path, dest: Path) -> None:
    """What `COPY` into an image stage does to a tree: same bytes, new mtimes."""
    shutil.copytree(src, dest, copy_function=shutil.copyfile)
    later = time.time() + 1000
    for path in dest.rglob("*"):
        os.utime(path, (later, later))


def make_read_only(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    root.chmod(0o555)


def make_writable(root: Path) -> None:
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


# --- the Docker step, proven with every interpreter --------------------------------------


@pytest.mark.parametrize("mode", ["unchecked-hash", "checked-hash"])
@pytest.mark.parametrize("exe", interpreter_params(COMPILE_VERSIONS))
def test_docker_step(
    exe: str, mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Compile for the target, copy the tree with fresh mtimes (what `COPY` does), make it
    read-only, import every module with -v: every one comes from its pyc, nothing is compiled,
    no cache changes; and `audit --require-fresh` agrees on the copy."""
    build = make_tree(tmp_path / "build")
    code, out, err = compile_cli(capsys, "--python", exe, "--invalidation-mode", mode, str(build))
    assert code == 0, out + err
    image = tmp_path / "image"
    copy_fresh_mtimes(build, image)
    before = pycs(image)
    assert {flags_of(d) for d in before.values()} == {1 if mode == "unchecked-hash" else 3}
    make_read_only(image)
    try:
        trace = import_verbose(exe, image, MODULE_NAMES)
        assert_all_from_pyc(trace, image, cache_tag(exe))
        assert pycs(image) == before
        code, out, err = compile_cli(
            capsys, "--python", exe, "--invalidation-mode", mode, "--dry-run", str(image)
        )
        assert code == 0 and "nothing to compile, 6 of 6 caches already fresh" in out, out + err
        audit_code = main(["audit", "--python", exe, "--require-fresh", str(image)])
        audit_out = capsys.readouterr().out
        assert audit_code == 0, audit_out
        assert "6 of 6 sources" in audit_out
    finally:
        make_writable(image)


@pytest.mark.parametrize("exe", interpreter_params(COMPILE_VERSIONS))
def test_timestamp_and_levels_load(
    exe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Timestamp caches at levels 0, 1 and 2 in place: each level loads under its own flag."""
    root = make_tree(tmp_path / "proj")
    code, out, err = compile_cli(
        capsys, "--python", exe, "-O", "0", "-O", "1", "-O", "2", str(root)
    )
    assert code == 0, out + err
    assert "compiled 18 of 18 caches (levels 0, 1, 2, timestamp)" in out
    tag = cache_tag(exe)
    written = pycs(root)
    assert len(written) == 18 and {flags_of(d) for d in written.values()} == {0}
    for flags, opt in (([], ""), (["-O"], ".opt-1"), (["-OO"], ".opt-2")):
        trace = import_verbose(exe, root, MODULE_NAMES, flags)
        assert_all_from_pyc(trace, root, tag, opt)
    assert pycs(root) == written
    # -OO dropped the docstrings, -O kept them.
    check = "import app.a; print(repr(app.a.__doc__))"
    assert run_python(exe, check, cwd=root, args=["-OO"]).stdout.strip() == "None"
    assert run_python(exe, check, cwd=root, args=["-O"]).stdout.strip() == "'Module a.'"


# --- reproducibility ---------------------------------------------------------------------


@pytest.mark.parametrize("exe", interpreter_params(["3.8", "3.10", "3.12", "3.13", "pypy3"]))
def test_hash_pycs_are_reproducible(
    exe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Byte-identical hash-based pycs across runs and --jobs values (sets included)."""
    root = make_tree(tmp_path / "proj")
    for n in range(30):  # enough files for two workers to share them differently
        write(root / "many" / f"m{n}.py", f"S{n} = {{'a{n}', 'b{n}', 'c', 'd', 'e', 'f'}}\n")
    results = []
    for jobs in ("1", "2", "2"):
        args = ["--python", exe, "--invalidation-mode", "checked-hash", "-j", jobs, "--force"]
        code, out, err = compile_cli(capsys, *args, str(root))
        assert code == 0, out + err
        results.append(pycs(root))
    assert len(results[0]) == 36
    assert results[0] == results[1] == results[2]


def test_same_bytes_in_another_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --strip-prefix/--prepend-prefix, two checkouts in different places give the same
    bytes (no absolute build path baked in)."""
    digests = []
    for where in ("one", "two"):
        root = make_tree(tmp_path / where / "src")
        args = ["--invalidation-mode", "unchecked-hash", "--strip-prefix", str(root)]
        code, out, err = compile_cli(capsys, *args, "--prepend-prefix", "/app", str(root))
        assert code == 0, out + err
        digests.append({k: hashlib.sha256(v).hexdigest() for k, v in pycs(root).items()})
    assert digests[0] == digests[1]


# --- what is skipped and what is rewritten -----------------------------------------------


def test_skips_fresh_and_switches_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A fresh cache is skipped only in its own mode: switching modes rewrites every cache
    (what compileall gets wrong, CPython issues 117204 and 121577)."""
    root = make_tree(tmp_path / "proj")

    def run(*args: str) -> dict[str, Any]:
        code, report = compile_json(capsys, *args, str(root))
        assert code == 0, report
        return dict(report["summary"])

    assert run()["compiled"] == 6
    assert {flags_of(d) for d in pycs(root).values()} == {0}
    assert run() == {
        "sources": 6,
        "fresh": 6,
        "planned": 0,
        "compiled": 0,
        "from_cache": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert run("--invalidation-mode", "checked-hash")["compiled"] == 6
    assert {flags_of(d) for d in pycs(root).values()} == {3}
    assert run("--invalidation-mode", "checked-hash")["compiled"] == 0  # hash pycs skipped too
    assert run("--invalidation-mode", "unchecked-hash")["compiled"] == 6
    assert {flags_of(d) for d in pycs(root).values()} == {1}
    assert run("--invalidation-mode", "unchecked-hash", "--force")["compiled"] == 6
    # An edited source: an unchecked-hash pyc would still be loaded (old code runs); compile
    # sees the hash differ and rewrites just that one.
    write(root / "app" / "a.py", "WORDS = set()\n")
    summary = run("--invalidation-mode", "unchecked-hash")
    assert (summary["compiled"], summary["fresh"]) == (1, 5)
    assert run("-O", "2", "--invalidation-mode", "unchecked-hash")["compiled"] == 6  # other level


def test_source_date_epoch_means_checked_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree(tmp_path / "proj")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    code, report = compile_json(capsys, str(root))
    assert code == 0 and report["invalidation_mode"] == "checked-hash"
    assert {flags_of(d) for d in pycs(root).values()} == {3}
    code, report = compile_json(capsys, "--invalidation-mode", "timestamp", str(root))
    assert code == 0 and report["summary"]["compiled"] == 6  # an explicit mode wins
    assert {flags_of(d) for d in pycs(root).values()} == {0}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")  # empty: timestamp, as in py_compile
    assert compile_json(capsys, str(root))[1]["invalidation_mode"] == "timestamp"


def test_same_walker_and_ignore_rules_as_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_tree(tmp_path / "proj")
    (root / ".git").mkdir()
    write(root / ".gitignore", "build/\ngenerated_*.py\n")
    write(root / "build" / "lib" / "copy.py", "X = 1\n")
    write(root / "generated_x.py", "X = 1\n")
    write(root / ".venv" / ".gitignore", "*\n")
    write(root / ".venv" / "lib" / "dep.py", "X = 1\n")
    code, out, err = compile_cli(capsys, str(root))
    assert code == 0, out + err
    assert sorted(pycs(root)) == sorted(
        f"{os.path.dirname(rel)}/__pycache__/{Path(rel).stem}.{sys.implementation.cache_tag}.pyc".lstrip(
            "/"
        )
        for rel in MODULES
    )
    code, out, err = compile_cli(capsys, "--exclude", "app/sub/", "--force", str(root))
    assert "compiled 4 of 4" in out


# --- errors ------------------------------------------------------------------------------


def test_syntax_and_encoding_errors_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree(tmp_path / "proj")
    write(root / "bad.py", "x = 1\ndef f(:\n    pass\n")
    (root / "latin.py").write_bytes(b"X = '\xe9t\xe9'\n")  # not UTF-8 and no coding line
    write(root / "tabs.py", "if True:\n        x = 1\n\ty = 2\n")
    monkeypatch.chdir(root)
    code, out, err = compile_cli(capsys, "-O", "0", "-O", "1")
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith("bad.py:2:7: SyntaxError: ")
    assert lines[1].startswith("latin.py:1:") and "utf-8" in lines[1]
    assert lines[2].startswith("tabs.py:3:") and "TabError" in lines[2]
    assert "compiled 12 of 18 caches (levels 0, 1, timestamp), 6 failed" in out
    assert len(pycs(root)) == 12  # the rest compiled
    code, report = compile_json(capsys, "-O", "0", "-O", "1")
    assert code == 1 and report["summary"]["failed"] == 6
    assert {e["kind"] for e in report["errors"]} == {"syntax"}
    bad = next(e for e in report["errors"] if e["source"].endswith("bad.py"))
    assert (bad["line"], bad["column"]) == (2, 7)


def test_dying_and_hanging_workers_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies or hangs is blamed for the file in hand, replaced, and the run goes
    on; its other files are compiled by the new worker."""
    root = make_tree(tmp_path / "proj")
    write(root / "zdie.py", "X = 1\n" * 500)
    write(root / "zhang.py", "X = 1\n" * 400)
    target = interpreters.current()
    hooks = tmp_path / "hooks"
    write(
        hooks / "sitecustomize.py",
        "import builtins, os, signal, time\n"
        "_real = builtins.compile\n"
        "def compile(source, filename, *a, **k):\n"
        "    if str(filename).endswith('zdie.py'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    if str(filename).endswith('zhang.py'):\n"
        "        time.sleep(60)\n"
        "    return _real(source, filename, *a, **k)\n"
        "builtins.compile = compile\n",
    )
    monkeypatch.setenv("PYTHONPATH", str(hooks))
    started = time.monotonic()
    result = compile_trees([str(root)], [target], Options(jobs=1, timeout=1.0))
    assert time.monotonic() - started < 20
    [outcome] = result.targets
    errors = {Path(e.source).name: e for e in outcome.errors}
    assert set(errors) == {"zdie.py", "zhang.py"}
    assert "killed by SIGKILL" in errors["zdie.py"].message
    assert "timed out" in errors["zhang.py"].message
    assert {e.kind for e in outcome.errors} == {"worker"}
    assert outcome.compiled == 6 and result.incomplete


def test_a_worker_that_cannot_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree(tmp_path / "proj")
    target = interpreters.current()
    write(tmp_path / "hooks" / "sitecustomize.py", "raise SystemExit('no compiling here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "hooks"))
    result = compile_trees([str(root)], [target], Options(jobs=2))
    [outcome] = result.targets
    assert outcome.compiled == 0 and len(outcome.errors) == 6
    assert all("cannot start" in e.message for e in outcome.errors)


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_tree(tmp_path / "proj")
    for args in (
        ["-O", "3"],
        ["--jobs", "0"],
        ["--strip-prefix", str(tmp_path / "elsewhere")],
        ["--invalidation-mode", "sometimes"],
        ["--python", str(tmp_path / "nope")],
    ):
        code, out, err = compile_cli(capsys, *args, str(root))
        assert code == 2, (args, out, err)
        assert err.startswith("pycache-tool: error:")
    assert pycs(root) == {}


@pytest.mark.parametrize("exe", interpreter_params(["2.7", "3.7"]))
def test_too_old_targets_are_refused(
    exe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = compile_cli(capsys, "--python", exe, str(make_tree(tmp_path / "proj")))
    assert code == 2 and "CPython 3.8+" in err


# --- dry run, JSON, prefixes, baked paths -------------------------------------------------


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_tree(tmp_path / "proj")
    assert compile_cli(capsys, str(root), "--exclude", "app/sub/")[0] == 0
    write(root / "app" / "a.py", "WORDS = 1\n", mtime=1_600_000_000)  # now stale
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in root.rglob("*") if p.is_file()}
    code, out, err = compile_cli(capsys, "--dry-run", str(root))
    assert code == 0, out + err
    assert after_state(root) == before
    lines = out.splitlines()
    assert lines[0].startswith(f"{sys.implementation.cache_tag}: would compile 3 of 6 caches")
    statuses = sorted(line.split()[0] for line in lines[1:])
    assert statuses == ["missing", "missing", "stale"]
    code, report = compile_json(
        capsys, "--dry-run", "--invalidation-mode", "checked-hash", str(root)
    )
    assert code == 0 and after_state(root) == before
    planned = {os.path.relpath(p["source"], root): p for p in report["planned"]}
    assert len(planned) == 6
    assert "written as timestamp; checked-hash was asked for" in planned["app/c.py"]["reason"]
    assert planned["app/sub/b.py"]["status"] == "missing"


def after_state(root: Path) -> dict[Path, tuple[int, bytes]]:
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in root.rglob("*") if p.is_file()}


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_tree(tmp_path / "proj")
    write(root / "bad.py", "def (\n")
    code, report = compile_json(capsys, "-j", "2", str(root))
    assert code == 1
    assert report["schema"] == 1 and report["command"] == "compile"
    [target] = report["targets"]
    assert target["name"] == sys.implementation.cache_tag and target["roots"] == [str(root)]
    assert (target["sources"], target["planned"], target["compiled"], target["failed"]) == (
        7,
        7,
        6,
        1,
    )
    assert target["workers"] == 2
    [error] = report["errors"]
    assert set(error) == {
        "source",
        "cache",
        "target",
        "optimization",
        "kind",
        "line",
        "column",
        "message",
    }
    assert report["planned"] is None


def test_pycache_prefix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_tree(tmp_path / "proj")
    prefix = tmp_path / "prefix"
    code, out, err = compile_cli(capsys, "--pycache-prefix", str(prefix), str(root))
    assert code == 0, out + err
    assert pycs(root) == {}
    assert len(pycs(prefix)) == 6
    mirror = prefix / str(root).lstrip(os.sep)
    assert (mirror / "app" / "sub" / f"b.{sys.implementation.cache_tag}.pyc").is_file()
    assert compile_cli(capsys, "--pycache-prefix", str(prefix), str(root))[1].startswith(
        f"{sys.implementation.cache_tag}: nothing to compile, 6 of 6"
    )
    trace = import_verbose(sys.executable, root, MODULE_NAMES, PYTHONPYCACHEPREFIX=str(prefix))
    for rel in MODULES:
        source = root / rel
        cache = (
            prefix
            / str(source.parent).lstrip(os.sep)
            / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
        )
        assert f"# code object from '{cache}'" in trace
    assert "# wrote" not in trace


def test_baked_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--strip-prefix/--prepend-prefix rewrite co_filename; the cache stays where it was."""
    root = make_tree(tmp_path / "proj")
    args = ["--strip-prefix", str(root), "--prepend-prefix", "/srv/app", str(root)]
    assert compile_cli(capsys, *args)[0] == 0
    # Import puts the real source path back into co_filename (_imp._fix_co_filename) when it
    # loads a pyc beside its source, so read the code object the cache file holds.
    check = (
        "import app.a as m, marshal; print(m.__spec__.cached);"
        " f = open(m.__spec__.cached, 'rb'); f.read(16); print(marshal.load(f).co_filename)"
    )
    done = run_python(sys.executable, check, cwd=root)
    cached, baked = done.stdout.split()
    assert baked == "/srv/app/app/a.py"
    assert cached == str(root / "app" / "__pycache__" / f"a.{sys.implementation.cache_tag}.pyc")
    assert compile_cli(capsys, "--strip-prefix", str(root), "--force", str(root))[0] == 0
    assert run_python(sys.executable, check, cwd=root).stdout.split()[1] == "app/a.py"


def test_site_packages_and_stdlib(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--site-packages adds the target's own site-packages, even inside a PATH whose walk skips
    the venv; --stdlib its standard library (planned only: compiling it takes a while)."""
    exe = INTERPRETERS.get("3.12")
    if exe is None:
        pytest.skip("Python 3.12 is not installed")
    app = make_tree(tmp_path / "app")
    venv = app / ".venv"
    subprocess.run([exe, "-m", "venv", "--without-pip", str(venv)], check=True)
    write(venv / ".gitignore", "*\n")  # as uv and 3.13's venv write it
    site = venv / "lib" / "python3.12" / "site-packages"
    write(site / "dep" / "__init__.py", "X = {1, 2}\n")
    python = str(venv / "bin" / "python")
    code, report = compile_json(capsys, "--python", python, str(app))
    assert code == 0 and report["summary"]["compiled"] == 6  # the venv is skipped like git does
    code, report = compile_json(capsys, "--python", python, "--site-packages", str(app))
    assert code == 0 and report["summary"]["compiled"] == 1, report
    assert (site / "dep" / "__pycache__" / "__init__.cpython-312.pyc").is_file()
    assert str(site) in report["targets"][0]["roots"]
    code, report = compile_json(capsys, "--python", python, "--stdlib", "--dry-run")
    [target] = report["targets"]
    stdlib = Path(exe).resolve().parent.parent / "lib" / "python3.12"
    assert target["roots"] == [str(stdlib)]
    assert target["sources"] > 500
    assert not any("site-packages" in p["source"] for p in report["planned"])


# --- interrupted runs --------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to find the workers")
def test_killed_run_leaves_no_truncated_pyc(tmp_path: Path) -> None:
    """SIGKILL the tool mid-run on a few hundred files: every cache on disk is whole (audit
    finds nothing corrupt, no temp files), and a re-run completes the job."""
    root = tmp_path / "proj"
    body = "".join(f"def f{i}(a, b):\n    return [a * {i}, b, {{'k{i}': a}}]\n" for i in range(300))
    for n in range(300):
        write(root / f"pkg{n % 10}" / f"mod{n}.py", body)
    tool = [
        sys.executable,
        "-m",
        "pycache_tool",
        "compile",
        "-j",
        "2",
        "--invalidation-mode",
        "checked-hash",
        str(root),
    ]
    env = {
        k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "PYTHONPYCACHEPREFIX")
    }
    proc = subprocess.Popen(tool, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    workers: list[int] = []
    while time.monotonic() < deadline:
        workers = workers or _children(proc.pid)
        if len(list(root.rglob("*.pyc"))) >= 40:
            break
        time.sleep(0.01)
    workers = workers or _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = len(list(root.rglob("*.pyc")))
    assert 40 <= written < 300, "the run was not interrupted mid-way"
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline + 30:
        time.sleep(0.01)  # orphaned workers finish the file in hand, then see the pipe close
    audit = subprocess.run(
        [sys.executable, "-m", "pycache_tool", "audit", "--format", "json", str(root)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    by_status = json.loads(audit.stdout)["summary"]["by_status"]
    assert set(by_status) == {"fresh"}, by_status
    debris = [p for p in root.rglob("*") if ".pyc." in p.name]
    assert debris == []
    again = subprocess.run(tool, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert "already fresh" in again.stdout
    check = subprocess.run(
        [sys.executable, "-m", "pycache_tool", "audit", "--require-fresh", str(root)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0 and "300 of 300 sources" in check.stdout, check.stdout


def test_no_progress_bar_when_piped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = compile_cli(capsys, str(make_tree(tmp_path / "proj")))
    assert code == 0 and err == "" and out.count("\n") == 1


def test_corrupt_and_foreign_caches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A truncated cache at the target's name is rewritten; caches of other interpreters are
    neither read nor touched."""
    root = make_tree(tmp_path / "proj")
    assert compile_cli(capsys, str(root))[0] == 0
    cache = root / "app" / "__pycache__" / f"a.{sys.implementation.cache_tag}.pyc"
    cache.write_bytes(cache.read_bytes()[:10])
    foreign = root / "app" / "__pycache__" / "a.cpython-38.pyc"
    foreign.write_bytes(b"not a pyc at all")
    code, report = compile_json(capsys, "--dry-run", str(root))
    assert [(p["status"], Path(p["cache"]).name) for p in report["planned"]] == [
        ("corrupt", cache.name)
    ]
    code, report = compile_json(capsys, str(root))
    assert code == 0 and report["summary"]["compiled"] == 1
    assert len(cache.read_bytes()) > 16 and foreign.read_bytes() == b"not a pyc at all"


def test_scan_lists_what_targets_lack(tmp_path: Path) -> None:
    """The library view of the plan: Scan(collect_needs=...) with levels and a mode."""
    from pycache_tool import scan

    root = make_tree(tmp_path / "proj")
    assert main(["compile", "-O", "0", str(root)]) == 0
    result = scan([root], levels=[0, 1], invalidation="timestamp", collect_needs="uncovered")
    assert all(r.status.value == "fresh" for r in result)
    assert sorted({n.level for n in result.needs}) == [1] and len(result.needs) == 6
    [coverage] = result.coverage
    assert (coverage.sources, coverage.fresh) == (12, 6)
    result = scan([root], invalidation="checked-hash", collect_needs="uncovered")
    list(result)
    assert len(result.needs) == 6  # fresh, but not in the requested mode
    assert {n.record.invalidation for n in result.needs} == {"timestamp"}


def test_workers_start_only_for_caches_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers start while the walk goes on (before the plan is handed to the pool), one per
    cache found to write and at most --jobs: never more than the pool uses, and none for a dry
    run or a tree with nothing to write."""
    started: list[str] = []  # "worker" at each start, "pool" when the walk's plan is done
    real_worker, real_pool = pool.Worker.__init__, pool.Pool.__init__

    def worker(self: pool.Worker, *args: Any) -> None:
        started.append("worker")
        real_worker(self, *args)

    def planned(self: pool.Pool, *args: Any, **kwargs: Any) -> None:
        started.append("pool")
        real_pool(self, *args, **kwargs)

    monkeypatch.setattr(pool.Worker, "__init__", worker)
    monkeypatch.setattr(pool.Pool, "__init__", planned)
    root = tmp_path / "proj"
    write(root / "a.py", "A = 1\n")
    write(root / "b.py", "B = 2\n")

    def workers_started(*args: str) -> int:
        started.clear()
        code, out, err = compile_cli(capsys, *args, str(root))
        assert code == 0, err
        after_the_walk = started[started.index("pool") :] if "pool" in started else []
        assert "worker" not in after_the_walk, (args, started)
        return started.count("worker")

    assert workers_started("--dry-run") == 0
    assert workers_started("-j", "8") == 2  # two caches to write
    assert workers_started("-j", "8") == 0  # every cache fresh
    assert workers_started("-j", "1", "--force") == 1
    write(root / "c.py", "C = 3\n")
    assert workers_started() == 1  # one cache to write, whatever the CPUs
    assert len(pycs(root)) == 3
