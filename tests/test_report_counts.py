"""What audit's report counts: cache files as cache files, directories on a line of their own,
and a list of missing caches that stays readable on a tree without any."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cli, write


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
