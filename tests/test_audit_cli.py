"""`pycache-tool audit` end to end: reports, JSON schema, exit codes, git, prefix trees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycache_tool import Record, Scan, Status, scan
from pycache_tool.reports.audit import record_json_text
from tests.cleantrees import compile_here
from tests.conftest import cli, cli_json, write

TAG = sys.implementation.cache_tag
FIELDS = {
    "path", "status", "source", "tag", "python", "magic", "optimization",
    "invalidation", "loads", "target", "size", "reason", "deep",
}  # fmt: skip


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return cli(capsys, "audit", *args)


def audit_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    return cli_json(capsys, "audit", *args)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A tree with one of each everyday status."""
    root = tmp_path / "proj"
    compile_here(write(root / "pkg" / "fresh.py", "A = 1\n"))
    stale = write(root / "pkg" / "stale.py", "B = 1\n", mtime=1_600_000_000)
    compile_here(stale)
    write(stale, "B = 22\n", mtime=1_600_000_100)
    gone = write(root / "pkg" / "gone.py", "C = 1\n")
    compile_here(gone)
    gone.unlink()
    old = write(root / "oldpkg" / "mod.py", "D = 1\n")
    compile_here(old)
    old.unlink()  # oldpkg/ now holds only __pycache__: a ghost
    lone = write(root / "lone.py", "E = 1\n")
    compile_here(lone, root / "lone.pyc")
    lone.unlink()  # sourceless: importable bytecode
    beside = write(root / "beside.py", "F = 1\n")
    compile_here(beside, root / "beside.pyc")  # legacy: Python 3 ignores it
    return root


def test_text_report(
    mixed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(mixed)
    code, out, err = audit(capsys)
    assert code == 0, err
    assert "cache files" in out.splitlines()[0]
    for status in ("fresh", "stale", "orphan", "sourceless", "legacy", "ghost"):
        assert status in out
    attention = out.split("needs attention", 1)[1]
    lines = [line.split()[0] for line in attention.splitlines()[1:] if line.strip()]
    # The dangerous ones lead: importable sourceless code and ghost packages.
    assert lines[:2] == ["sourceless", "ghost"]
    assert "pkg/__pycache__/fresh" not in out  # fresh records only with --verbose
    _, verbose, _ = audit(capsys, "--verbose")
    assert f"pkg/__pycache__/fresh.{TAG}.pyc" in verbose


def test_check_exit_codes(mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit(capsys, "--check", str(mixed))[0] == 1
    clean = tmp_path / "clean"
    compile_here(write(clean / "ok.py", "X = 1\n"))
    code, out, _ = audit(capsys, "--check", str(clean))
    assert code == 0
    assert "nothing needs attention" in out


def test_json_lists_every_record(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = audit_json(capsys, str(mixed))
    assert code == 0
    assert doc["schema"] == 1
    assert doc["targets"][0]["tag"] == TAG
    by_name = {os.path.relpath(r["path"], mixed): r for r in doc["records"]}
    for record in doc["records"]:
        assert set(record) == FIELDS
    fresh = by_name[f"pkg/__pycache__/fresh.{TAG}.pyc"]
    assert fresh["status"] == "fresh" and fresh["loads"] is True and fresh["target"] is True
    assert (
        fresh["invalidation"] == "timestamp"
        and fresh["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    )
    assert by_name["oldpkg"]["status"] == "ghost"
    assert by_name["lone.pyc"]["status"] == "sourceless" and by_name["lone.pyc"]["loads"] is True
    assert by_name["beside.pyc"]["status"] == "legacy" and by_name["beside.pyc"]["loads"] is False
    summary = doc["summary"]
    assert summary["by_status"]["fresh"]["files"] == 1
    assert summary["by_interpreter"][TAG]["target"] is True
    assert summary["files"] == sum(1 for r in doc["records"] if r["status"] != "ghost")


def test_library_api_matches_cli(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = audit_json(capsys, str(mixed))
    records = list(scan([mixed]))
    assert sorted((r.path, r.status.value) for r in records) == sorted(
        (r["path"], r["status"]) for r in doc["records"]
    )


def test_usage_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = audit(capsys, str(tmp_path / "nope"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no such directory" in err
    code, _, err = audit(capsys, "--bogus")
    assert code == 2 and err.count("\n") == 1 and "--bogus" in err
    code, _, err = audit(capsys, "--tag", "nonsense", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    code, _, err = audit(capsys, "--python", str(tmp_path / "no-python"), str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    file = write(tmp_path / "f.py")
    assert audit(capsys, str(file))[0] == 2


def test_require_fresh_reports_coverage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "app"
    compile_here(write(root / "a.py", "A = 1\n"))
    write(root / "b.py", "B = 1\n")
    write(root / "ignored" / "c.py", "C = 1\n")
    write(root / ".gitignore", "ignored/\n")
    code, out, _ = audit(capsys, "--require-fresh", str(root))
    assert code == 1
    assert f"coverage: 1 of 2 sources have a cache that {TAG} will load" in out
    code, doc = audit_json(capsys, "--require-fresh", str(root))
    missing = [r for r in doc["records"] if r["status"] == "missing"]
    assert [os.path.basename(r["source"]) for r in missing] == ["b.py"]
    assert missing[0]["path"].endswith(f"__pycache__/b.{TAG}.pyc")
    assert doc["coverage"] == [{"target": TAG, "sources": 2, "fresh": 1}]
    compile_here(root / "b.py")
    assert audit(capsys, "--require-fresh", str(root))[0] == 0


def test_require_fresh_for_a_tag_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compile_here(write(tmp_path / "a.py", "A = 1\n"))
    code, out, _ = audit(capsys, "--require-fresh", "--tag", "cpython-38", str(tmp_path))
    assert code == 1
    assert "0 of 1 sources have a cache that cpython-38 will load" in out
    assert "cpython-38 (target)" not in out  # no 3.8 caches exist, so no row for it


def test_tracked_bytecode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    compile_here(write(repo / "m.py", "M = 1\n"))
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    code, out, _ = audit(capsys, "--check", str(repo))
    assert code == 1, out
    assert "bytecode tracked by git (1)" in out
    assert (
        f"git rm -r --cached -- {repo}/__pycache__/m.{TAG}.pyc" in out
        or "git rm -r --cached" in out
    )
    _, doc = audit_json(capsys, str(repo))
    assert doc["tracked"] == [str(repo / "__pycache__" / f"m.{TAG}.pyc")]
    subprocess.run([*git, "rm", "-q", "-r", "--cached", "--", "__pycache__"], check=True)
    assert audit(capsys, "--check", str(repo))[0] == 0


def test_pycache_prefix_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = tmp_path / "prefix"
    root = tmp_path / "src"
    write(root / "kept.py", "K = 1\n")
    write(root / "gone.py", "G = 1\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import kept, gone", str(root)],
        env=env, check=True,
    )  # fmt: skip
    (root / "gone.py").unlink()
    assert not (root / "__pycache__").exists()
    mirror = prefix / str(root).lstrip(os.sep)
    assert (mirror / f"kept.{TAG}.pyc").exists()
    # From the environment, as the interpreter would see it.
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(prefix))
    code, doc = audit_json(capsys, "--require-fresh", str(root))
    statuses = {os.path.basename(r["path"]): r["status"] for r in doc["records"]}
    assert statuses == {f"kept.{TAG}.pyc": "fresh", f"gone.{TAG}.pyc": "orphan"}
    assert doc["coverage"] == [{"target": TAG, "sources": 1, "fresh": 1}]
    assert code == 0
    # Named explicitly, with the environment cleared.
    monkeypatch.delenv("PYTHONPYCACHEPREFIX")
    _, doc = audit_json(capsys, "--pycache-prefix", str(prefix), str(root))
    assert len(doc["records"]) == 2
    # A prefix inside the scanned tree is not mistaken for legacy bytecode.
    inner = tmp_path / "src" / ".pycache"
    shutil.copytree(prefix, inner)
    _, doc = audit_json(capsys, "--pycache-prefix", str(inner), str(root))
    assert {r["status"] for r in doc["records"]} == {"fresh", "orphan"}


def test_unprintable_names_stay_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = write(tmp_path / "we\nird.py", "X = 1\n")
    compile_here(gone)
    gone.unlink()
    code, out, _ = audit(capsys, str(tmp_path))
    assert code == 0
    assert "we\\nird" in out
    _, doc = audit_json(capsys, str(tmp_path))
    assert doc["records"][0]["path"].endswith(f"we\nird.{TAG}.pyc")


def test_non_utf8_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = os.fsdecode(b"caf\xe9")
    gone = write(tmp_path / f"{name}.py", "X = 1\n")
    compile_here(gone)
    gone.unlink()
    code, out, _ = audit(capsys, str(tmp_path))
    assert code == 0 and "orphan" in out
    code, out, _ = audit(capsys, "--format", "json", str(tmp_path))
    assert json.loads(out)["records"][0]["status"] == "orphan"


def test_the_tool_writes_no_bytecode(tmp_path: Path) -> None:
    """With bytecode writing on, a run leaves the audited tree and the tool's own modules alone."""
    package = Path(__file__).resolve().parents[1] / "pycache_tool"
    copy = tmp_path / "lib" / "pycache_tool"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    tree = tmp_path / "tree"
    write(tree / "m.py", "M = 1\n")
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(copy.parent)
    done = subprocess.run(
        [sys.executable, "-m", "pycache_tool", "audit", "--require-fresh", str(tree)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert sorted(p.name for p in tree.rglob("*")) == ["m.py"]
    written = sorted(p.name for p in copy.rglob("*.pyc"))
    # Only the package's own __init__ is cached, by the interpreter, before the tool's first line runs.
    assert all(name.startswith("__init__.") for name in written), written


def test_statuses_cover_the_design() -> None:
    assert {s.value for s in Status} == {
        "fresh", "stale", "orphan", "sourceless", "legacy", "shadowed", "corrupt",
        "unknown", "unreadable", "missing", "ghost", "symlink",
    }  # fmt: skip


def test_interrupt_is_one_line_and_exit_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(Scan, "__iter__", interrupted)
    code, out, err = audit(capsys, str(tmp_path))
    assert code == 130
    assert err == "pycache-tool: interrupted\n"


# Control characters and lone surrogates (undecodable bytes under surrogateescape), drawn from
# a list: older hypothesis releases refuse surrogates in from_regex.
_ODD = [chr(c) for c in (*range(0x20), *range(0xDC80, 0xDD00))]
_text = st.text(max_size=20) | st.lists(st.sampled_from(_ODD), min_size=1).map("".join)


@given(
    st.builds(
        Record,
        path=_text,
        status=st.sampled_from(list(Status)),
        source=st.none() | _text,
        tag=st.none() | _text,
        python=st.none() | _text,
        magic=st.none() | st.integers(0, 65535),
        optimization=st.none() | st.integers(0, 2),
        invalidation=st.none() | st.sampled_from(["timestamp", "checked-hash", "unchecked-hash"]),
        loads=st.none() | st.booleans(),
        target=st.booleans(),
        size=st.integers(0, 1 << 40),
        reason=_text,
        deep=st.none() | st.sampled_from(["ok", "damaged", "not checked"]),
    )
)
def test_record_json_text_is_json_dumps(record: Record) -> None:
    """The hand-built record JSON that audit streams is byte-for-byte what json.dumps writes."""
    fields = record._asdict()
    del fields["stamp"]  # identity for clean, not part of the report
    del fields["directory"]  # what the totals count it as, not part of the record
    fields["status"] = record.status.value
    assert record_json_text(record) == json.dumps(fields)
