"""`pycache-tool compile` keeps to its tree and never hangs: symlinks in the way are skipped,
never written through; workers that die, never start or stop reading cost at most --timeout;
an interpreter that hangs or prints bytes that are not UTF-8 is one line, exit 2.

The races (symlinks swapped in while compile runs) and signals are in test_reliability.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pycache_tool.compile.results import Options

from .conftest import cli, cli_json, write

TAG = sys.implementation.cache_tag
TOOL = [sys.executable, "-m", "pycache_tool"]


def tool(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command line; a run that hangs fails the test instead of the suite."""
    return subprocess.run([*TOOL, *args], capture_output=True, text=True, timeout=120)


def script(path: Path, text: str) -> Path:
    write(path, text).chmod(0o755)
    return path


def fake_python(tmp: Path, worker: str) -> Path:
    """A ``--python`` that answers the tool's questions as the interpreter running the tests
    does, but names a shell script of ``worker`` as its executable: what compile starts."""
    fake_worker = script(tmp / "fake-worker", "#!/bin/sh\n" + worker)
    return script(
        tmp / "fake-python",
        f'#!/bin/sh\n"{sys.executable}" "$@" | '
        f'sed \'s#"executable": "[^"]*"#"executable": "{fake_worker}"#\'\n',
    )


def long_paths(root: Path, files: int = 64) -> Path:
    """``files`` sources at a depth of ~3,600 characters: a batch of them is larger than a
    pipe's buffer (64 KiB), so the tool cannot hand it over in one write."""
    deep = root.joinpath(*["d" * 200] * 18)
    for n in range(files):
        write(deep / f"m{n}.py", "X = 1\n")
    return root


# --- symlinks in the way -----------------------------------------------------------------


def test_symlinked_pycache_is_skipped_never_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's reproduction: a __pycache__ that links to a directory outside the tree.
    compile plans nothing there (a dry run lists it as skipped, with the reason), writes
    nothing through it, with --force too, and exits 0: nothing failed, nothing was its to do."""
    tree, outside = tmp_path / "t", tmp_path / "o"
    write(tree / "pkg" / "mod.py", "x = 1\n")
    write(tree / "pkg" / "other.py", "y = 2\n")
    write(tree / "top.py", "z = 3\n")
    keep = write(outside / f"mod.{TAG}.pyc", "KEEP\n")
    os.symlink("../../o", tree / "pkg" / "__pycache__")
    code, report = cli_json(capsys, "compile", "--dry-run", str(tree))
    assert code == 0
    assert [Path(p["source"]).name for p in report["planned"]] == ["top.py"]
    skipped = {Path(s["source"]).name: s["reason"] for s in report["skipped"]}
    assert skipped == {
        "mod.py": "__pycache__ is a symlink: never written through",
        "other.py": "__pycache__ is a symlink: never written through",
    }
    for args in ([], ["--force"]):
        code, out, err = cli(capsys, "compile", *args, str(tree))
        assert code == 0, out + err
        force = ", --force" if args else ""
        assert f"compiled 1 of 3 caches (level 0, timestamp{force}), 2 skipped" in out
        assert f"  skipped    {tree}/pkg/__pycache__/mod.{TAG}.pyc: __pycache__ is a symlink" in out
    assert keep.read_text() == "KEEP\n"
    assert sorted(p.name for p in outside.iterdir()) == [f"mod.{TAG}.pyc"]
    assert (tree / "__pycache__" / f"top.{TAG}.pyc").is_file()


def test_symlinked_cache_and_pycache_file_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cache file that is a symlink, and a __pycache__ that is a plain file: skipped with
    the reason; the link's target is never written."""
    root = tmp_path / "proj"
    write(root / "app" / "a.py", "A = 1\n")
    write(root / "app" / "b.py", "B = 1\n")
    write(root / "lib" / "c.py", "C = 1\n")
    (root / "app" / "__pycache__").mkdir()
    os.symlink(tmp_path / "elsewhere.pyc", root / "app" / "__pycache__" / f"a.{TAG}.pyc")
    write(root / "lib" / "__pycache__", "not a directory\n")
    code, report = cli_json(capsys, "compile", str(root))
    assert code == 0, report
    skipped = {Path(s["source"]).name: s["reason"] for s in report["skipped"]}
    assert skipped == {
        "a.py": "not a regular file: never written through",
        "c.py": "__pycache__ is not a directory",
    }
    assert report["summary"]["compiled"] == 1 and report["summary"]["skipped"] == 2
    assert not (tmp_path / "elsewhere.pyc").exists()
    assert (root / "lib" / "__pycache__").read_text() == "not a directory\n"


def test_pycache_prefix_tree_is_never_written_through_a_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a pycache_prefix the worker makes the mirror tree itself (the prefix need not
    exist), one directory at a time: a mirror directory that is a symlink is skipped, never
    written through."""
    root, prefix, outside = tmp_path / "proj", tmp_path / "pc" / "new", tmp_path / "outside"
    write(root / "a" / "m.py", "M = 1\n")
    write(root / "b" / "n.py", "N = 1\n")
    outside.mkdir()
    mirror = prefix / str(root).lstrip("/")
    mirror.mkdir(parents=True)
    os.symlink(outside, mirror / "b")
    code, out, err = cli(capsys, "compile", "--pycache-prefix", str(prefix), str(root))
    assert code == 0, out + err
    assert (mirror / "a" / f"m.{TAG}.pyc").is_file()
    assert list(outside.iterdir()) == []
    assert f"  skipped    {mirror}/b/n.{TAG}.pyc: b is a symlink: never written through" in out
    fresh = tmp_path / "pc2"
    code, out, err = cli(capsys, "compile", "--pycache-prefix", str(fresh), str(root))
    assert code == 0 and (fresh / str(root).lstrip("/") / "b" / f"n.{TAG}.pyc").is_file()


# --- nothing hangs ---------------------------------------------------------------------


def test_a_worker_that_dies_before_its_first_batch(tmp_path: Path) -> None:
    """The interpreter's reported executable exits at once, before it reads a byte: with one
    job, the batch (larger than a pipe) finds no reader. Every file is reported, exit 3, and
    the run ends (it used to wait in select() on nothing, forever)."""
    root = long_paths(tmp_path / "proj")
    python = fake_python(tmp_path, "exit 0\n")
    done = tool("compile", "-j", "1", "--python", str(python), "--format", "json", str(root))
    assert done.returncode == 3, done.stdout + done.stderr
    errors = json.loads(done.stdout)["errors"]
    assert len(errors) == 64 and {e["kind"] for e in errors} == {"worker"}
    assert all(e["message"].startswith(f"cannot start a {TAG} worker") for e in errors), errors[0]


def test_timeout_holds_while_a_worker_does_not_read(tmp_path: Path) -> None:
    """A worker that never reads its input (nor answers): the tool cannot hand over a batch
    larger than the pipe, and --timeout still ends the wait (writes never block)."""
    root = long_paths(tmp_path / "proj")
    python = fake_python(tmp_path, "exec sleep 300\n")
    done = tool(
        "compile", "-j", "1", "--timeout", "2", "--python", str(python), "--format", "json",
        str(root),
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    errors = json.loads(done.stdout)["errors"]
    assert len(errors) == 64
    assert {e["message"] for e in errors} == {f"cannot start a {TAG} worker: no answer after 2 s"}


def test_a_hanging_python_costs_the_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asking a --python that never answers costs --timeout seconds, not a fixed minute."""
    slow = script(tmp_path / "slowpython", "#!/bin/sh\nexec sleep 60\n")
    code, out, err = cli(capsys, "compile", "--timeout", "1", "--python", str(slow), str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"pycache-tool: error: --python {slow} gave no answer in 1 s\n"


@pytest.mark.parametrize("command", ["audit", "compile"])
def test_a_python_printing_bytes_that_are_not_utf8(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever an interpreter prints, its failure is one line, exit 2, no traceback."""
    failing = script(
        tmp_path / "failing",
        "#!/bin/sh\nprintf '\\377\\376\\n'\nprintf 'bad \\377\\n' >&2\nexit 1\n",
    )
    code, out, err = cli(capsys, command, "--python", str(failing), str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"pycache-tool: error: --python {failing} failed: bad \\xff\n"
    babbling = script(tmp_path / "babbling", "#!/bin/sh\nprintf '\\377\\376\\n'\n")
    code, out, err = cli(capsys, command, "--python", str(babbling), str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        f"pycache-tool: error: --python {babbling} did not answer like a Python interpreter\n"
    )


# --- what the report says ------------------------------------------------------------------


def test_io_errors_name_the_cache_not_its_temp_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cache name of 255 bytes is valid, its temp file's name (+ ``.<pid><n>``) is not: the
    write fails, and the message names the cache."""
    root = tmp_path / "proj"
    stem = "x" * (255 - len(f".{TAG}.pyc"))
    write(root / f"{stem}.py", "X = 1\n")
    cache = root / "__pycache__" / f"{stem}.{TAG}.pyc"
    code, out, err = cli(capsys, "compile", str(root))
    assert code == 3, out + err
    first = out.splitlines()[0]
    assert first == f"{root}/{stem}.py: OSError: File name too long: {cache}"


def test_force_rewrites_and_says_nothing_is_fresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --force nothing is left alone as fresh, and the report does not pretend it was."""
    root = tmp_path / "proj"
    write(root / "a.py", "A = 1\n")
    write(root / "b.py", "B = 1\n")
    assert cli(capsys, "compile", str(root))[0] == 0
    code, out, err = cli(capsys, "compile", "--force", str(root))
    assert code == 0, err
    assert out.startswith(f"{TAG}: compiled 2 of 2 caches (level 0, timestamp, --force); 2 workers")
    code, report = cli_json(capsys, "compile", "--force", "--dry-run", str(root))
    assert (report["summary"]["fresh"], report["summary"]["planned"]) == (0, 2)


def test_no_per_file_time_limit_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow machine never fails a build: without --timeout a worker may take as long as a
    file needs, as compileall does; --timeout sets a limit."""
    import pycache_tool.compile.plan as plan

    seen: list[Options] = []
    real = plan.compile_trees

    def spy(paths, targets, options, progress=None):  # type: ignore[no-untyped-def]
        seen.append(options)
        return real(paths, targets, options, progress)

    monkeypatch.setattr(plan, "compile_trees", spy)
    write(tmp_path / "a.py", "A = 1\n")
    assert cli(capsys, "compile", str(tmp_path))[0] == 0
    assert cli(capsys, "compile", "--timeout", "2.5", str(tmp_path))[0] == 0
    assert [o.timeout for o in seen] == [None, 2.5]
    assert Options().timeout is None
