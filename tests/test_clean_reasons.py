"""Why clean removes a file (the category that takes it, not the audit's verdict), why it
keeps every other one (``-v``), and what an interrupted run had removed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pycache_tool.errors import Terminated
from tests.cleantrees import FOREIGN_TAG, TAG, mixed_tree
from tests.conftest import cli, cli_json, write


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "proj"
    p = mixed_tree(root)
    p["notes"] = write(root / "notes.pyc", "notes\n")  # a text file: no magic number
    return root, p


def _by_path(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["path"]: e for e in entries}


def test_a_removal_says_why_it_goes(
    tree: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    """``clean --foreign -v``: "not a target", not the audit's view of a fresh file."""
    root, p = tree
    code, out, err = cli(capsys, "clean", "--foreign", "--stale", "-v", "-n", str(root))
    assert code == 0, err
    foreign = f"would remove fresh      {p['foreign']}: --foreign: {FOREIGN_TAG} is not a target"
    assert f"{foreign} (targets: {TAG})\n" in out
    assert "use --invalidation-mode" not in out
    stale = f"would remove stale      {p['stale']}: --stale: source "
    assert stale in out and "; import recompiles it\n" in out
    code, doc = cli_json(capsys, "clean", "--foreign", "--stale", "-n", str(root))
    removed = _by_path(doc["removed"])
    assert removed[str(p["foreign"])]["category"] == "foreign"
    assert removed[str(p["foreign"])]["reason"] == (
        f"--foreign: {FOREIGN_TAG} is not a target (targets: {TAG})"
    )
    assert removed[str(p["stale"])]["category"] == "stale"
    assert doc["kept"] is None  # listed with --verbose only
    code, doc = cli_json(capsys, "clean", "-n", str(root))
    fresh = _by_path(doc["removed"])[str(p["fresh"])]
    assert fresh["category"] is None
    assert fresh["reason"] == "no category named: every cache file goes, but sourceless bytecode"
    ghost_run = _by_path(cli_json(capsys, "clean", "--ghosts", "-n", str(root))[1]["removed"])
    assert ghost_run[str(p["old/mod.py"])]["reason"] == "--ghosts: it lies in a ghost directory"
    assert ghost_run[str(p["ghost"])]["category"] == "ghosts"


def test_verbose_says_why_each_file_stays(
    tree: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The text file named notes.pyc, sourceless code, what no category asked for."""
    root, p = tree
    code, out, err = cli(capsys, "clean", "--stale", "-v", str(root))
    assert code == 0, err
    assert f"removed stale      {p['stale']}" in out
    kept = {
        line.split()[2].rstrip(":"): line for line in out.splitlines() if line.startswith("kept ")
    }
    assert kept[str(p["notes"])].startswith("kept corrupt    ")
    assert kept[str(p["notes"])].endswith(
        "not bytecode; outside __pycache__ only files with a known magic number are removed"
        " (--exclude leaves it out of the scan)"
    )
    assert kept[str(p["sourceless"])].endswith(
        ": importable bytecode without a source: only --sourceless removes it"
    )
    assert kept[str(p["fresh"])].endswith(": not in the categories asked (--stale)")
    assert kept[str(p["ghost"])].startswith("kept ghost      ")
    # Everything the scan found is either removed or kept, with a reason.
    assert str(p["stale"]) not in kept and str(p["foreign"]) in kept and str(p["legacy"]) in kept
    code, doc = cli_json(capsys, "clean", "--orphans", "-v", "-n", str(root))
    kept_json = _by_path(doc["kept"])
    assert kept_json[str(p["notes"])]["status"] == "corrupt"
    assert str(p["orphan"]) not in kept_json and str(p["fresh"]) in kept_json
    # Without -v nothing is said about what stays.
    code, out, err = cli(capsys, "clean", "--orphans", str(root))
    assert "kept" not in out


@pytest.mark.parametrize(
    ("output", "signal", "code", "line"),
    [
        ("text", KeyboardInterrupt, 130, "interrupted"),
        ("json", KeyboardInterrupt, 130, "interrupted"),
        ("text", Terminated, 143, "terminated"),
    ],
)
def test_an_interrupted_clean_says_what_it_had_removed(
    tree: tuple[Path, dict[str, Path]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    output: str,
    signal: type[BaseException],
    code: int,
    line: str,
) -> None:
    """Ctrl-C (or SIGTERM) after two removals: its exit code, its one line on stderr, and on
    stdout the two files it removed, in the report's own form."""
    root, p = tree
    real_unlink = os.unlink
    done: list[str] = []

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if len(done) == 2:
            raise signal
        real_unlink(path, *args, **kwargs)
        done.append(str(path))

    monkeypatch.setattr(os, "unlink", unlink)  # what clean removes with
    exit_code, out, err = cli(capsys, "clean", "--format", output, str(root))
    assert exit_code == code and err == f"pycache-tool: {line}\n"
    if output == "json":
        import json

        doc = json.loads(out)
        assert doc["interrupted"] is True and doc["summary"]["files"] == 2
        removed = [r["path"] for r in doc["removed"]]
    else:
        removed = [line.split()[-1] for line in out.splitlines() if line.startswith("removed ")]
        last = out.splitlines()[-1]
        assert last.startswith("interrupted: removed 2 files and 0 directories, ")
        assert last.endswith(
            " freed before it stopped; the rest is as it was (run it again to finish)"
        )
    assert len(removed) == 2 and not any(Path(r).exists() for r in removed)
    assert p["fresh"].exists() or p["stale"].exists()  # it stopped half-way


def test_own_is_the_complement_of_foreign(
    tree: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--own``: every cache of the targets, fresh ones included, and nothing of any other
    interpreter (what doctor suggests for the caches a pycache_prefix makes dead)."""
    root, p = tree

    def removed(*args: str) -> set[str]:
        _, doc = cli_json(capsys, "clean", "-n", *args, str(root))
        return {r["path"] for r in doc["removed"] if r["kind"] == "file"}

    own = removed("--own", "--tag", TAG)
    foreign = removed("--foreign", "--tag", TAG)
    assert str(p["fresh"]) in own and str(p["legacy"]) in own and str(p["foreign"]) not in own
    assert not own & foreign and own | foreign == removed()
    assert removed("--own", "--tag", FOREIGN_TAG) == {str(p["foreign"])}
    assert str(p["sourceless"]) not in own  # only --sourceless takes importable code
