"""``--exclude`` takes file patterns too, a pattern that matches nothing is pointed out, and
clean says which directories the ignore files kept it out of."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cleantrees import compile_here
from tests.conftest import cli, cli_json, write


def test_a_text_file_named_pyc_can_be_excluded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``notes.pyc`` holding "notes" is corrupt, and clean never removes it: without a way to
    leave it out, ``audit --check`` would fail for ever."""
    notes = write(tmp_path / "docs" / "notes.pyc", "notes\n")
    compile_here(write(tmp_path / "app" / "m.py", "X = 1\n"))
    code, out, _ = cli(capsys, "audit", "--check", str(tmp_path))
    assert code == 1 and "docs/notes.pyc" in out
    code, out, err = cli(capsys, "audit", "--check", "--exclude", "notes.pyc", str(tmp_path))
    assert (code, err) == (0, "") and "notes.pyc" not in out
    code, _, err = cli(capsys, "audit", "--check", "--exclude", "/docs/notes.pyc", str(tmp_path))
    assert (code, err) == (0, "")
    # The configuration's exclude takes the same patterns.
    write(tmp_path / "pyproject.toml", '[tool.pycache-tool]\nexclude = ["*.pyc"]\n')
    code, doc = cli_json(capsys, "audit", "--check", str(tmp_path))
    assert code == 0
    # A file pattern leaves out files outside __pycache__ only: the caches stay in the audit.
    assert [Path(r["path"]).parent.name for r in doc["records"]] == ["__pycache__"]
    assert notes.exists()


def test_an_excluded_source_needs_no_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compile_here(write(tmp_path / "m.py", "X = 1\n"))
    write(tmp_path / "generated.py", "Y = 1\n")
    code, doc = cli_json(
        capsys, "audit", "--require-fresh", "--exclude", "generated.py", str(tmp_path)
    )
    assert code == 0
    assert [c["sources"] for c in doc["coverage"]] == [1]


def test_a_pattern_that_matches_nothing_is_pointed_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """From ``src/``, ``--exclude flask/json/`` excludes nothing: patterns are relative to the
    project root. Say so, rather than nothing."""
    root = tmp_path / "proj"
    write(root / "pyproject.toml", '[tool.pycache-tool]\nexclude = ["never-there/"]\n')
    compile_here(write(root / "src" / "flask" / "json" / "tag.py", "X = 1\n"))
    monkeypatch.chdir(root / "src")
    code, out, err = cli(capsys, "clean", "-n", "--exclude", "flask/json/", ".")
    assert code == 0
    assert err == (
        "pycache-tool: warning: --exclude flask/json/ matched nothing; patterns are relative to"
        f" the project root ({root}), not to the current directory\n"
    )
    assert "would remove cache      flask/json/__pycache__/tag." in out
    # Relative to the root, it matches: no warning, and nothing of it is removed.
    code, out, err = cli(capsys, "clean", "-n", "--exclude", "src/flask/json/", ".")
    assert (code, err) == (0, "") and "flask/json" not in out
    # compile walks the same way and says the same.
    code, out, err = cli(capsys, "compile", "-n", "--exclude", "flask/json/", ".")
    assert code == 0 and err.startswith("pycache-tool: warning: --exclude flask/json/ matched")
    # A file pattern that matches a file counts; the configuration's patterns are not checked.
    code, _, err = cli(capsys, "audit", "--exclude", "tag.py", "--exclude", "*.txt", ".")
    assert code == 0 and err.count("warning") == 1 and "--exclude *.txt matched nothing" in err


def test_clean_says_which_directories_the_ignore_files_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Flask's tests/typing is gitignored: pyclean, py3clean and find clean its caches, and
    clean skipped them without a word."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write(tmp_path / ".gitignore", "tests/typing/\n")
    kept = compile_here(write(tmp_path / "tests" / "typing" / "t.py", "X = 1\n"))
    compile_here(write(tmp_path / "app.py", "Y = 1\n"))
    code, out, err = cli(capsys, "clean", str(tmp_path))
    assert code == 0, err
    assert out.splitlines()[-1] == (
        "not looked into: 1 directory that the ignore files (.gitignore, .git/info/exclude)"
        f" leave out ({tmp_path / 'tests' / 'typing'}); --no-ignore includes it"
    )
    assert kept.exists()
    code, doc = cli_json(capsys, "clean", "-n", str(tmp_path))
    assert doc["ignored"] == [str(tmp_path / "tests" / "typing")]
    code, out, err = cli(capsys, "clean", "-q", str(tmp_path))
    assert "not looked into" not in out  # the everyday hook stays quiet
    code, out, err = cli(capsys, "clean", "--no-ignore", str(tmp_path))
    assert code == 0 and not kept.exists() and "not looked into" not in out
