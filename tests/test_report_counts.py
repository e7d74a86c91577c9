"""What audit's report counts: cache files as cache files, directories on a line of their own,
and a list of missing caches that stays readable on a tree without any."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cleantrees import compile_here
from tests.conftest import cli, cli_json, write
from tests.test_unreadable_source import AS_USER


def test_missing_caches_are_capped_unless_verbose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(30):
        write(tmp_path / f"m{n:02}.py", f"X = {n}\n")
    code, out, _ = cli(capsys, "audit", "-q", "--require-fresh", str(tmp_path))
    assert code == 1
    missing = [line for line in out.splitlines() if line.startswith("  missing ")]
    assert len(missing) == 20
    assert "needs attention (30), most dangerous first:" in out
    assert "  ... and 10 more missing caches (--verbose lists them all)\n" in out
    assert "coverage: 0 of 30 sources" in out
    code, out, _ = cli(capsys, "audit", "-v", "--require-fresh", str(tmp_path))
    attention = out.split("needs attention (30)")[1]
    assert attention.count("\n  missing ") == 30 and "more missing" not in out


def _table(out: str, title: str) -> dict[str, int]:
    """A table of the text report: its rows' first column -> files."""
    rows: dict[str, int] = {}
    block = out.split(f"  {title}")[1].split("\n\n")[0]
    for line in block.splitlines()[1:]:
        name, files = line.rsplit(None, 3)[0], line.split()[-3]
        rows[name.strip()] = int(files)
    return rows


def test_directories_are_not_counted_as_cache_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ghost is a directory: the tables sum to the cache files of the first line."""
    compile_here(write(tmp_path / "app" / "views.py", "X = 1\n"))
    gone = write(tmp_path / "old" / "helpers.py", "Y = 1\n")
    compile_here(gone)
    gone.unlink()
    code, out, _ = cli(capsys, "audit", str(tmp_path))
    lines = out.splitlines()
    assert lines[0].startswith("2 cache files, ")
    assert lines[1] == "1 ghost directory"
    assert sum(_table(out, "status").values()) == 2 == sum(_table(out, "interpreter").values())
    assert "ghost" not in _table(out, "status")
    code, doc = cli_json(capsys, "audit", str(tmp_path))
    summary = doc["summary"]
    assert summary["files"] == 2 == sum(s["files"] for s in summary["by_status"].values())
    assert summary["directories"] == {"ghost": 1} and summary["missing"] == 0
    assert "ghost" not in summary["by_status"]
    code, out, _ = cli(capsys, "audit", "-q", str(tmp_path))
    assert out.splitlines()[1] == "1 ghost directory"  # quiet keeps it: it is a total


def test_directories_that_cannot_be_listed_are_no_cache_files(tmp_path: Path) -> None:
    """``audit -q /proc`` found 42 directories it could not list and called them cache files."""
    if AS_USER and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: every directory is readable")
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name).chmod(0)
    done = subprocess.run(
        [*AS_USER, sys.executable, "-m", "pycache_tool", "audit", "-q", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("0 cache files, 0 B in ")
    assert lines[1] == "3 unreadable directories"
    assert sum(1 for line in lines if line.startswith("  unreadable ")) == 3
